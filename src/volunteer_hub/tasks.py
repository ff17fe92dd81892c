"""Every module that declares actors; imported by create_app() so that web processes can
send to them and workers can run them."""

from volunteer_hub.calendar import tasks as calendar_tasks
from volunteer_hub.hours import tasks as hours_tasks
from volunteer_hub.roster import tasks as roster_tasks
from volunteer_hub.sms import tasks as sms_tasks

__all__ = ["calendar_tasks", "hours_tasks", "roster_tasks", "sms_tasks"]
