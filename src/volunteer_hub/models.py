"""Every model module, imported once so that the metadata is complete."""

from volunteer_hub.audit.models import AuditEntry
from volunteer_hub.auth.models import ApiToken, LoginCode, PasswordReset
from volunteer_hub.calendar.changes import FeedChange
from volunteer_hub.calendar.models import Feed
from volunteer_hub.callouts.models import Callout, CalloutRecipient, CalloutRing, CalloutShift
from volunteer_hub.events.models import Category, Event, Shift
from volunteer_hub.hours.marks import RollupMark
from volunteer_hub.hours.models import HoursRollup, RecordChange, ServiceRecord, TeamHoursRollup
from volunteer_hub.people.models import Person, PhoneChange
from volunteer_hub.people.skills import PersonSkill, Skill
from volunteer_hub.roster.models import RosterImport
from volunteer_hub.signups.models import Signup
from volunteer_hub.sms.models import Broadcast, ConsentChange, InboundSms, OutgoingSms
from volunteer_hub.submissions import FormSubmission
from volunteer_hub.teams.models import Membership, Team, TeamInvitation
from volunteer_hub.units.models import Unit

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Broadcast",
    "Callout",
    "CalloutRecipient",
    "CalloutRing",
    "CalloutShift",
    "Category",
    "ConsentChange",
    "Event",
    "Feed",
    "FeedChange",
    "FormSubmission",
    "HoursRollup",
    "InboundSms",
    "LoginCode",
    "Membership",
    "OutgoingSms",
    "PasswordReset",
    "Person",
    "PersonSkill",
    "PhoneChange",
    "RecordChange",
    "RollupMark",
    "RosterImport",
    "ServiceRecord",
    "Shift",
    "Signup",
    "Skill",
    "Team",
    "TeamHoursRollup",
    "TeamInvitation",
    "Unit",
]
