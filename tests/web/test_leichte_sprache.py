"""Lotse in Leichter Sprache: a page for everyone (signed in or not), linked at the foot of every page, and a
part of the client's printed sheet; both keep to the rules Leichte Sprache sets that a test can check."""

import html
import re

from flask import Flask

from tests.routing.conftest import Directory
from tests.web.conftest import signed_in

ABBREVIATIONS = ("z. B.", "z.B.", "bzw.", "usw.", "ggf.", "d. h.", "ca.", "u. a.", "Nr.")


def _easy_sentences(page: str) -> list[str]:
    """The sentences of the page's parts in Leichte Sprache, one to a paragraph as the rules ask."""
    parts = re.findall(r'class="lotse-leichte-sprache[^"]*"[^>]*>(.*?)</(?:article|section)>', page, re.S)
    assert parts, "no part in Leichte Sprache"
    paragraphs = [p for part in parts for p in re.findall(r'<p class="kern-body">(.*?)</p>', part, re.S)]
    return [html.unescape(re.sub(r"<[^>]+>", "", p)).strip() for p in paragraphs]


def _keeps_the_rules(sentences: list[str]) -> None:
    for sentence in sentences:
        words = sentence.split()
        assert len(words) <= 12, f"longer than 12 words: {sentence}"
        assert len(re.findall(r"[.?!](?=\s|$)", sentence)) <= 1, f"more than one sentence: {sentence}"
        assert not any(a in sentence for a in ABBREVIATIONS), f"an abbreviation: {sentence}"
        assert not re.search(r"[§;()]", sentence), f"a paragraph sign, semicolon or bracket: {sentence}"
        long_words = [w for w in re.findall(r"[\wäöüÄÖÜß·-]+", sentence) if len(w) > 15 and not {"·", "-"} & set(w)]
        assert not long_words, f"a long word not split by a middle dot or hyphen: {long_words}"


def test_the_page_in_leichte_sprache_is_open_to_everyone_and_keeps_the_rules(web_app: Flask) -> None:
    client = web_app.test_client()
    login = client.get("/anmelden").get_data(as_text=True)
    assert 'href="/leichte-sprache">Leichte Sprache</a>' in login  # at the foot of every page
    answer = client.get("/leichte-sprache")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    for heading in (
        "Was ist Lotse?",
        "Was passiert mit Ihren Daten?",
        "Wie finden Sie sich auf diesen Seiten zurecht?",
    ):
        assert f">{heading}</h2>" in page
    sentences = _easy_sentences(page)
    assert len(sentences) > 20
    _keeps_the_rules(sentences)


def test_the_client_s_sheet_has_its_part_in_leichte_sprache(
    web_app: Flask, directory: Directory, referral: str
) -> None:
    client = signed_in(web_app, "cm.witten")
    assert 'href="/leichte-sprache">Lotse in Leichter Sprache</a>' in client.get("/").get_data(as_text=True)
    sheet = client.get(f"/referrals/{referral}/merkblatt").get_data(as_text=True)
    sentences = _easy_sentences(sheet)
    assert "Jugendamt der Stadt Witten (Demo)" in sentences  # to whom, in its own line
    _keeps_the_rules([s for s in sentences if s != "Jugendamt der Stadt Witten (Demo)"])
