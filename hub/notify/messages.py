"""The words of each notification (pure): the number first, the clinic's name, never the
patient's name. Japanese by default, English when the patient's page was in English."""

from __future__ import annotations

from hub.notify.channels import Message
from hub.notify.rules import Trigger

_JA = {
    "near": (
        "まもなく順番です（{number}番）",
        "{number}番の方、まもなく順番です。あと{ahead}人です。",
    ),
    "called": ("お呼びしています（{number}番）", "{number}番の方、お呼びしています。{room}"),
    "recalled": ("再度お呼びしています（{number}番）", "{number}番の方、再度お呼びしています。"),
    "absent": ("受付にお声がけください（{number}番）", "{number}番の方、受付にお声がけください。"),
}
_EN = {
    "near": ("Your turn is near (No. {number})", "No. {number}: your turn is near. {ahead} ahead."),
    "called": ("You are being called (No. {number})", "No. {number}: you are being called."),
    "recalled": ("Called again (No. {number})", "No. {number}: you are being called again."),
    "absent": ("Please see the reception (No. {number})", "No. {number}: see the reception."),
}  # fmt: skip


def render(
    facility: str, info: str, clinic: str, trigger: Trigger, lang: str = "ja", room: str = ""
) -> Message:
    """The message of ``trigger`` for the patient of ticket ``trigger.ticket_id``."""
    table = _EN if lang == "en" else _JA
    title, body = table[trigger.trigger]
    values = {
        "number": trigger.number,
        "ahead": trigger.ahead if trigger.ahead is not None else "",
        "room": f"{room}へお越しください。" if room and lang != "en" else "",
    }
    prefix = f"【{clinic}】" if lang != "en" else f"[{clinic}] "
    return Message(
        facility=facility,
        info=info,
        ticket_id=trigger.ticket_id,
        number=trigger.number,
        trigger=trigger.trigger,
        n=trigger.n,
        ahead=trigger.ahead,
        clinic=clinic,
        title=prefix + title.format(**values),
        body=body.format(**values).strip(),
        path=f"/q/{info}/t/{trigger.ticket_id}",
        lang="en" if lang == "en" else "ja",
    )
