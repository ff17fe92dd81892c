"""Every module that declares actors; imported by create_app() so that web processes can
send to them and workers can run them."""

from volunteer_hub.sms import tasks as sms_tasks

__all__ = ["sms_tasks"]
