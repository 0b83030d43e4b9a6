"""Country and language codes that exist: what a source's `country` and `language`, an
API client's `language`, and a page's `lang` may name.

Two short lists of a standard that changes once in years, kept here rather than taken from a
package: pycountry, the library that holds them, is 23 MB and costs every command ~60 ms to
load, where the checks need only to know the codes exist ("QQ" passed as a country, and gave
its sources a tag and a time zone of nowhere). No imports: the parse workers and the config
check both read it.
"""

from __future__ import annotations


def _codes(listed: str) -> frozenset[str]:
    return frozenset(listed.split())


# ISO 3166-1 alpha-2: the 249 officially assigned codes (as ISO 3166 Maintenance Agency lists
# them, 2026), then the EU's own (Interinstitutional Style Guide), which EU sources' configs
# use: EU for the Union's institutions, EL for Greece and UK for the United Kingdom, where
# ISO 3166 has GR and GB; and XK, Kosovo's code in the EU's and most international use.
ISO_3166_COUNTRIES = _codes(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN
    BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL
    GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM
    JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME
    MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP
    NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD
    SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """
)
EU_COUNTRY_CODES = frozenset({"EU", "EL", "UK", "XK"})
COUNTRY_CODES = ISO_3166_COUNTRIES | EU_COUNTRY_CODES

# ISO 639-1: the two-letter language codes (with bh and sh, withdrawn since, which older
# documents still carry).
LANGUAGE_CODES = _codes(
    """
    aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu
    cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he
    hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko
    kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd
    ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se
    sg sh si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw
    ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu bh
    """
)
