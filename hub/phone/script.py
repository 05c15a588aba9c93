"""What a call says (pure): the Japanese text, twice, numbers as digits and no name (someone
else may answer), as TwiML built with ``xml.etree`` (``Say`` in ja-JP, ``Pause``, ``Hangup``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

LANGUAGE = "ja-JP"
PAUSE_S = 1


def text(clinic: str, number: int, trigger: str, ahead: int | None) -> str:
    """One saying of the message: the clinic, the ticket number, what to do."""
    head = f"こちらは{clinic}です。受付番号{number}番の方、"
    if trigger == "called":
        return head + "お呼びしています。受付までお越しください。"
    rest = f"あと{ahead}人です。" if ahead is not None and ahead > 0 else ""
    return head + f"まもなく順番です。{rest}受付までお越しください。"


def twiml(message: str) -> str:
    """``<Response><Say language="ja-JP">…</Say><Pause/><Say …>…</Say><Hangup/></Response>``:
    the message twice (escaped by ``xml.etree``, so a clinic name cannot inject verbs)."""
    root = ET.Element("Response")
    for i in range(2):
        if i:
            ET.SubElement(root, "Pause", length=str(PAUSE_S))
        say = ET.SubElement(root, "Say", language=LANGUAGE)
        say.text = message
    ET.SubElement(root, "Hangup")
    return ET.tostring(root, encoding="unicode", xml_declaration=False)
