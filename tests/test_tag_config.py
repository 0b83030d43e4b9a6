"""The shipped config/tags.toml: it loads, names the agreed topics, and tags real phrasing
in several languages while leaving look-alikes alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aggregator.tag import TagRules, load_tag_rules, topic_tags
from tests.support_tag import make_item, make_source

CONFIG = Path(__file__).resolve().parent.parent / "config" / "tags.toml"
TOPICS = [
    "csar",
    "csa-directive",
    "interim-regulation",
    "ai-csam",
    "encryption",
    "age-verification",
    "dsa",
    "grooming-sextortion",
    "survivors",
    "hotlines",
    "law-enforcement",
]


@pytest.fixture(scope="module")
def rules() -> TagRules:
    return load_tag_rules(CONFIG)


def test_shipped_topics(rules: TagRules) -> None:
    names = [t.name for t in rules.topics]
    assert set(names) <= set(TOPICS)
    assert sorted(names) == sorted(TOPICS)
    assert all(t.label and t.description for t in rules.topics)


def test_every_named_list_is_used() -> None:
    text = CONFIG.read_text("utf-8")
    lists = re.search(r"^\[lists\]\n(.*?)^\[tag\.", text, re.S | re.M)
    assert lists is not None
    names = re.findall(r"^([a-z-]+) = \[", lists.group(1), re.M)
    assert names
    for name in names:
        assert f'"@{name}"' in text, f"[lists] {name} is never used"


def topics(rules: TagRules, title: str, text: str = "", url: str = "") -> set[str]:
    item = make_item(title, text, url=url or "https://example.org/news/1")
    return set(topic_tags(item, make_source(), rules))


# (language, title, text, the topic it must get). Phrasing as the press and NGOs write it.
POSITIVE = [
    ("fr", "Images pédopornographiques générées par l'IA : la police alerte", "", "ai-csam"),
    ("fr", "Contenus pédopornographiques générés par l’intelligence artificielle", "", "ai-csam"),
    (
        "fr",
        "Appel commun",
        "Les lignes de signalement des abus sexuels sur enfants ont reçu plus de rapports",
        "hotlines",
    ),
    ("de", "Altersgrenze für soziale Medien: unter 16 Jahren verboten?", "", "age-verification"),
    ("en", "MEPs reject chat control", "", "csar"),
    ("en", "Council agrees position on the CSA Regulation", "", "csar"),
    ("en", "Detection orders dropped", "Providers would no longer face detection orders.", "csar"),
    ("en", "Experts warn", "Client-side scanning breaks the promise of private messaging.", "csar"),
    ("de", "Chatkontrolle: Rat einigt sich", "", "csar"),
    ("de", "Die CSAM-Verordnung im Trilog", "", "csar"),
    ("fr", "Le Conseil relance le contrôle des chats", "", "csar"),
    ("fr", "Messageries", "Le règlement CSAR prévoit des injonctions de détection.", "csar"),
    ("nl", "Europees Parlement stemt over chatcontrole", "", "csar"),
    ("it", "Il controllo delle chat torna al Consiglio", "", "csar"),
    ("es", "El control de chats vuelve a Bruselas", "", "csar"),
    ("pl", "Kontrola czatów: Rada przyjmuje stanowisko", "", "csar"),
    ("sv", "Chattkontroll: EU-ministrarna oeniga", "", "csar"),
    ("en", "Procedure", "File 2022/0155 (COD) moves to trilogue.", "csar"),
    ("en", "Recast agreed", "Directive 2011/93/EU will be replaced.", "csa-directive"),
    (
        "en",
        "Parliament backs the recast of the directive",
        "on child sexual abuse",
        "csa-directive",
    ),
    ("de", "Neufassung der Richtlinie", "gegen Kindesmissbrauch", "csa-directive"),
    ("fr", "Directive CSA : accord provisoire", "", "csa-directive"),
    (
        "en",
        "Interim regulation extended",
        "to fight child sexual abuse online",
        "interim-regulation",
    ),
    ("en", "Vote", "Regulation (EU) 2021/1232 expires in April.", "interim-regulation"),
    ("en", "MEPs", "a derogation from the ePrivacy Directive", "interim-regulation"),
    ("de", "Chatkontrolle 1.0 verlängert", "", "interim-regulation"),
    ("fr", "Vote", "la dérogation temporaire à la directive ePrivacy", "interim-regulation"),
    ("en", "IWF", "AI-generated child sexual abuse imagery is rising", "ai-csam"),
    ("en", "Schools", "Deepfakes of pupils shared in class chats", "ai-csam"),
    ("en", "Regulators move against nudify apps", "", "ai-csam"),
    ("de", "KI-generierte Missbrauchsdarstellungen nehmen zu", "", "ai-csam"),
    ("fr", "Alerte", "des images générées par l'IA montrant des enfants", "ai-csam"),
    ("en", "Signal threatens to leave", "over end-to-end encryption", "encryption"),
    ("en", "Apple adds encryption to backups", "", "encryption"),
    ("de", "Die Ende-zu-Ende-Verschlüsselung ist in Gefahr", "", "encryption"),
    ("fr", "Le chiffrement de bout en bout menacé", "", "encryption"),
    ("nl", "Kabinet wil versleuteling niet verzwakken", "", "encryption"),
    ("it", "La crittografia end-to-end", "", "encryption"),
    ("es", "Expertos defienden el cifrado de extremo a extremo", "", "encryption"),
    ("pl", "Szyfrowanie end-to-end zagrożone", "", "encryption"),
    ("sv", "Kryptering hotas", "", "encryption"),
    ("en", "Backdoor", "a backdoor in messaging apps", "encryption"),
    ("en", "Commission presents age verification app", "", "age-verification"),
    ("en", "Ofcom", "Age checks now apply to porn sites", "age-verification"),
    ("de", "Altersverifikation für Plattformen", "", "age-verification"),
    ("fr", "La vérification de l'âge en ligne", "", "age-verification"),
    ("fr", "Majorité numérique", "", "age-verification"),
    ("es", "Verificación de edad obligatoria", "", "age-verification"),
    ("pl", "Weryfikacja wieku w sieci", "", "age-verification"),
    ("en", "Australia's social media ban for under-16s starts", "", "age-verification"),
    ("en", "Commission opens proceedings under the Digital Services Act", "", "dsa"),
    ("en", "TikTok", "The DSA obliges platforms to assess risks to minors.", "dsa"),
    ("de", "Gesetz über digitale Dienste", "", "dsa"),
    ("fr", "Le règlement sur les services numériques", "", "dsa"),
    ("en", "Sextortion cases double", "", "grooming-sextortion"),
    ("en", "Police warn", "online grooming of children on gaming platforms", "grooming-sextortion"),
    ("de", "Cybergrooming", "", "grooming-sextortion"),
    ("fr", "La sextorsion touche les adolescents", "", "grooming-sextortion"),
    ("en", "Brave Movement", "survivors meet MEPs", "survivors"),
    ("en", "Hearing", "Survivors of child sexual abuse testify", "survivors"),
    ("de", "Anhörung", "Betroffene sexualisierter Gewalt fordern Aufarbeitung", "survivors"),
    ("fr", "Audition", "des victimes de violences sexuelles dans l'enfance", "survivors"),
    ("en", "INHOPE annual report", "", "hotlines"),
    ("en", "NCMEC", "CyberTipline reports reached 36 million", "hotlines"),
    ("en", "IWF", "The IWF removed more child sexual abuse imagery", "hotlines"),
    ("en", "Europol operation", "against child sexual abuse on the dark web", "law-enforcement"),
    (
        "de",
        "Razzia gegen Pädophilen-Netzwerk",
        "BKA durchsucht 50 Wohnungen wegen Missbrauchsdarstellungen",
        "law-enforcement",
    ),
    (
        "en",
        "AI models",
        "UK to criminalise AI models optimised to create child abuse images",
        "ai-csam",
    ),
    (
        "it",
        "Adescamento di minorenni online",
        "La polizia postale avverte i genitori",
        "grooming-sextortion",
    ),
    ("fr", "Contrôle des conversations privées", "Le Sénat s'inquiète du projet européen", "csar"),
    ("nl", "Offlimits", "Meer meldingen van online kindermisbruik", "hotlines"),
    (
        "en",
        "EU app",
        "A new EU app lets users prove they are adults before accessing porn sites",
        "age-verification",
    ),
    (
        "en",
        "Arrests",
        "Police arrested 20 suspects sharing child sexual abuse material",
        "law-enforcement",
    ),
    (
        "de",
        "Festnahmen",
        "Die Polizei hat wegen Kinderpornografie ermittelt und festgenommen",
        "law-enforcement",
    ),
]

# Look-alikes that must NOT get the topic.
NEGATIVE = [
    (
        "en",
        "40 tonnes of cocaine seized",
        "Europol supported the operation in six countries",
        "law-enforcement",
    ),
    (
        "en",
        "Ransomware group dismantled",
        "Europol and Eurojust took down its servers",
        "law-enforcement",
    ),
    (
        "en",
        "Alcohol sold online",
        "MEPs want stricter age verification for deliveries",
        "age-verification",
    ),
    ("de", "Alterskontrolle beim Alkoholkauf", "an Selbstbedienungskassen", "age-verification"),
    (
        "en",
        "Payment services",
        "strong customer authentication and encryption of card data",
        "encryption",
    ),
    (
        "en",
        "Interim rules extended",
        "MEPs extend the temporary derogation from the ePrivacy Directive to detect child "
        "sexual abuse",
        "csar",
    ),
    (
        "en",
        "116 000 hotlines for missing children",
        "reports of child sexual exploitation rose",
        "hotlines",
    ),
    ("en", "#MeToo in film", "victims of sexual abuse on set speak out", "survivors"),
    ("en", "CSAR helicopters", "combat search and rescue (CSAR) training", "csar"),
    ("en", "Parental controls", "The new chat control panel lets parents mute strangers.", "csar"),
    ("en", "Police crack down", "EU member states block migrant smuggling routes", "csar"),
    ("en", "Digital services tax", "the UK's digital services tax on US tech", "dsa"),
    ("en", "Germany", "Telecommunications, Digital Services and Data Protection Act", "dsa"),
    ("en", "Crypto", "The DSA key was replaced by the digital signature algorithm...", "dsa"),
    ("en", "Dog grooming salon opens", "for children and adults alike", "grooming-sextortion"),
    (
        "en",
        "Heir",
        "He was groomed as his successor by the children of the founder",
        "grooming-sextortion",
    ),
    ("en", "Ransomware", "The ransomware encrypted the files of the hospital", "encryption"),
    ("en", "Deal", "The tax passed through the back door, on a messaging app", "encryption"),
    ("fr", "Chômage", "Les chiffres du chômage sont en baisse", "encryption"),
    ("fr", "Décryptage : ce que change le budget européen pour l'agriculture", "", "encryption"),
    ("de", "Forscher entschlüsseln das Genom der Weinrebe", "", "encryption"),
    ("es", "Presupuesto", "El gasto, cifrado en 30 millones", "encryption"),
    ("en", "Quake", "Survivors of the earthquake wait for aid", "survivors"),
    ("en", "Holocaust survivors honoured", "", "survivors"),
    ("de", "Kartellamt", "Missbrauch einer marktbeherrschenden Stellung", "survivors"),
    ("en", "Weightlifting", "The IWF banned three lifters", "hotlines"),
    ("en", "Customer hotline", "call our hotline for refunds", "hotlines"),
    ("en", "Burglary", "Police arrested two men", "law-enforcement"),
    ("en", "Interim regulation on tariffs", "", "interim-regulation"),
    ("en", "Vote", "the ePrivacy Directive to fight child sexual abuse online", "csa-directive"),
    ("fr", "Vote", "la directive ePrivacy contre les abus sexuels sur enfants", "csa-directive"),
    ("en", "Politics", "Deepfake of the prime minister", "ai-csam"),
    ("en", "Age of the universe", "astronomers verify the estimate", "age-verification"),
]


@pytest.mark.parametrize(
    ("language", "title", "text", "topic"),
    POSITIVE,
    ids=[f"{lang}:{topic}:{title[:30]}" for lang, title, _, topic in POSITIVE],
)
def test_tags_real_phrasing(
    rules: TagRules, language: str, title: str, text: str, topic: str
) -> None:
    assert topic in topics(rules, title, text)


@pytest.mark.parametrize(
    ("language", "title", "text", "topic"),
    NEGATIVE,
    ids=[f"{lang}:not-{topic}:{title[:30]}" for lang, title, _, topic in NEGATIVE],
)
def test_leaves_look_alikes_alone(
    rules: TagRules, language: str, title: str, text: str, topic: str
) -> None:
    assert topic not in topics(rules, title, text)


def test_chat_control_one_is_the_interim_regulation(rules: TagRules) -> None:
    assert topics(rules, "Chat Control 1.0 extended") == {"interim-regulation"}
    assert topics(rules, "Chat control 2.0 back in Council") == {"csar"}


def test_url_slug_counts(rules: TagRules) -> None:
    url = "https://netzpolitik.org/2025/chatkontrolle-die-eu-staaten-einigen-sich/"
    assert "csar" in topics(rules, "Die EU-Staaten einigen sich", url=url)


# A reviewer's look-alikes: "chat control" and "client-side scanning" as product features,
# topic words only in a publisher's standing paragraph, CSAM as Cybersecurity Awareness Month.
REVIEWED_NEGATIVE = [
    (
        "Nintendo adds new chat control that lets parents block strangers in GameChat",
        "Parents decide who their children can talk to.",
        "csar",
    ),
    (
        "Microsoft Teams gets meeting chat control for organisers",
        "Organisers can turn chat off during town halls.",
        "csar",
    ),
    (
        "Fortnite voice chat control explained: how to keep kids safe",
        "Voice chat now defaults to friends only for players under 13.",
        "csar",
    ),
    (
        "How to turn off chat in Minecraft",
        "Open Settings, then Multiplayer, choose Chat control and set it to Commands only.",
        "csar",
    ),
    (
        "Discord rolls out chat control for server owners",
        "Server owners can slow down messages during raids.",
        "csar",
    ),
    (
        "Roblox update",
        "Roblox's new chat control gives parents more say over who their children talk to.",
        "csar",
    ),
    # The settings sense in a text that names the EU in passing.
    (
        "Xbox update rolls out across the EU",
        "Families can open the new in-game chat control and set it to friends only.",
        "csar",
    ),
    (
        "Chrome adds client-side scanning of downloads for malware",
        "Safe Browsing now performs client-side scanning of downloaded files before they are "
        "opened.",
        "csar",
    ),
    (
        "Chrome adds client-side scanning of downloads for malware",
        "Safe Browsing now performs client-side scanning of downloaded files before they are "
        "opened.",
        "encryption",
    ),
    (
        "IWF staff run the London Marathon for a safer internet",
        "Five members of our team ran the London Marathon and raised more than 12,000 pounds. "
        "About the IWF: The Internet Watch Foundation is a not-for-profit organisation that "
        "works to eliminate child sexual abuse imagery online.",
        "hotlines",
    ),
    (
        "Cocaine trafficking network dismantled in Spain and the Netherlands",
        "Spanish and Dutch authorities, supported by Europol, dismantled a network that smuggled "
        "cocaine through Rotterdam. EMPACT: The current EMPACT priorities include high-risk "
        "criminal networks, cyber-attacks, trafficking in human beings, child sexual "
        "exploitation, migrant smuggling, drug trafficking and fraud.",
        "law-enforcement",
    ),
    (
        "AI Act omnibus: the Commission wants to delay rules on high-risk systems",
        "The digital omnibus would postpone obligations for high-risk AI systems by 16 months. "
        "EDRi relies on donations. Support our fight against mass surveillance, chat control "
        "and online censorship: donate today.",
        "csar",
    ),
    (
        "Join our AI CSAM webinar: defending against deepfake phishing",
        "As part of Cybersecurity Awareness Month, our experts show how attackers use "
        "generative AI for voice cloning and deepfake phishing.",
        "ai-csam",
    ),
    (
        "CSAM 2026 wrap-up: what we learned this October",
        "Thanks to everyone who joined our Cyber-Security Awareness Month events across the EU. "
        "Member states ran campaigns on blocking scam messages.",
        "csar",
    ),
]

# ...and the real uses beside them, which must keep their tags.
REVIEWED_POSITIVE = [
    ("EU chat control vote postponed", "", "csar"),
    ("Stop chat control", "", "csar"),
    ("Chat control: what you need to know", "", "csar"),
    ("Denmark tables a new chat control proposal", "", "csar"),
    (
        "Gamers",
        "Players and game studios join the campaign against the chat control proposal.",
        "csar",
    ),
    ("Explainer", "The so-called chat control regulation would scan private messages.", "csar"),
    (
        "Why gamers should care about chat control",
        "The EU wants to scan private messages, including in-game chats.",
        "csar",
    ),
    ("#ChatControl", "Write to your MEP today.", "csar"),
    ("Chatkontrolle: Rat vertagt Abstimmung", "", "csar"),
    # An EDRi post on chat control, with EDRi's appeal after it.
    (
        "Chat control: the Council's new text still scans private messages",
        "Member states keep detection orders in the text. EDRi relies on donations. Support "
        "our fight against mass surveillance, chat control and online censorship: donate today.",
        "csar",
    ),
    ("Experts warn", "Client-side scanning breaks the promise of private messaging.", "encryption"),
    (
        "Apple drops client-side scanning of iCloud photos",
        "The plan to scan photos for CSAM on the device is abandoned.",
        "csar",
    ),
    ("Client-side scanning explained", "", "csar"),
    # An IWF release with its "About the IWF" paragraph, and a Europol release with its box.
    (
        "IWF: record number of reports",
        "Analysts confirmed 300,000 reports of child sexual abuse imagery last year. About the "
        "IWF: The Internet Watch Foundation is a not-for-profit organisation that works to "
        "eliminate child sexual abuse imagery online.",
        "hotlines",
    ),
    ("Internet Watch Foundation annual report", "", "hotlines"),
    (
        "Operation against online child sexual exploitation",
        "Europol supported 12 countries in arresting 20 suspects. EMPACT: The current EMPACT "
        "priorities include child sexual exploitation, migrant smuggling and drug trafficking.",
        "law-enforcement",
    ),
    (
        "Operazione della Polizia Postale",
        "Europol ha sostenuto l'indagine su abusi sessuali su minori. EMPACT: The current EMPACT "
        "priorities include child sexual exploitation, migrant smuggling and drug trafficking.",
        "law-enforcement",
    ),
    ("IWF", "AI CSAM is rising sharply, analysts warn", "ai-csam"),
    ("Regeringen vill försvaga totalsträckskrypteringen", "", "encryption"),
    (
        "Polisen",
        "Polisen vill kunna läsa meddelanden som skyddas av totalsträckskryptering.",
        "encryption",
    ),
    (
        "Surveillance des messageries : la France soutient le texte danois",
        "Paris soutient le compromis danois sur le projet de règlement européen contre la "
        "pédocriminalité en ligne, qui prévoit l'analyse des messages privés.",
        "csar",
    ),
    ("Ochrana soukromí", "Evropská komise prosazuje kontrolu chatů.", "csar"),
    ("Ochrana soukromí", "Ministři souhlasili s kontrolou chatů.", "csar"),
]


@pytest.mark.parametrize(
    ("title", "text", "topic"),
    REVIEWED_NEGATIVE,
    ids=[f"not-{topic}:{title[:30]}" for title, _, topic in REVIEWED_NEGATIVE],
)
def test_leaves_features_and_standing_text_alone(
    rules: TagRules, title: str, text: str, topic: str
) -> None:
    assert topic not in topics(rules, title, text)


@pytest.mark.parametrize(
    ("title", "text", "topic"),
    REVIEWED_POSITIVE,
    ids=[f"{topic}:{title[:30]}:{text[:20]}" for title, text, topic in REVIEWED_POSITIVE],
)
def test_keeps_the_debate_beside_look_alikes(
    rules: TagRules, title: str, text: str, topic: str
) -> None:
    assert topic in topics(rules, title, text)
