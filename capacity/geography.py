"""Provinces (ISO 3166-2 subdivision codes) of the countries the network covers. Pure data.

Luxembourg has no provinces; its cantons stand in their place.
"""

from __future__ import annotations

from dataclasses import dataclass

from capacity.vocabulary import Country


@dataclass(frozen=True)
class Province:
    code: str
    country: Country
    names: dict[str, str]  # language → name (fr, nl, de, en)

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["en"]


def _p(code: str, fr: str, nl: str, de: str, en: str) -> Province:
    return Province(code, Country(code[:2]), {"fr": fr, "nl": nl, "de": de, "en": en})


PROVINCES: dict[str, Province] = {
    p.code: p
    for p in [
        _p(
            "BE-BRU",
            "Région de Bruxelles-Capitale",
            "Brussels Hoofdstedelijk Gewest",
            "Region Brüssel-Hauptstadt",
            "Brussels-Capital Region",
        ),
        _p("BE-VAN", "Anvers", "Antwerpen", "Antwerpen", "Antwerp"),
        _p("BE-VLI", "Limbourg", "Limburg", "Limburg", "Limburg"),
        _p("BE-VOV", "Flandre-Orientale", "Oost-Vlaanderen", "Ostflandern", "East Flanders"),
        _p("BE-VWV", "Flandre-Occidentale", "West-Vlaanderen", "Westflandern", "West Flanders"),
        _p("BE-VBR", "Brabant flamand", "Vlaams-Brabant", "Flämisch-Brabant", "Flemish Brabant"),
        _p("BE-WBR", "Brabant wallon", "Waals-Brabant", "Wallonisch-Brabant", "Walloon Brabant"),
        _p("BE-WHT", "Hainaut", "Henegouwen", "Hennegau", "Hainaut"),
        _p("BE-WLG", "Liège", "Luik", "Lüttich", "Liège"),
        _p("BE-WLX", "Luxembourg", "Luxemburg", "Luxemburg", "Luxembourg (province)"),
        _p("BE-WNA", "Namur", "Namen", "Namur", "Namur"),
        _p("NL-DR", "Drenthe", "Drenthe", "Drenthe", "Drenthe"),
        _p("NL-FL", "Flevoland", "Flevoland", "Flevoland", "Flevoland"),
        _p("NL-FR", "Frise", "Friesland", "Friesland", "Friesland"),
        _p("NL-GE", "Gueldre", "Gelderland", "Gelderland", "Gelderland"),
        _p("NL-GR", "Groningue", "Groningen", "Groningen", "Groningen"),
        _p(
            "NL-LI",
            "Limbourg (Pays-Bas)",
            "Limburg (Nederland)",
            "Limburg (Niederlande)",
            "Limburg (Netherlands)",
        ),
        _p("NL-NB", "Brabant-Septentrional", "Noord-Brabant", "Nordbrabant", "North Brabant"),
        _p("NL-NH", "Hollande-Septentrionale", "Noord-Holland", "Nordholland", "North Holland"),
        _p("NL-OV", "Overijssel", "Overijssel", "Overijssel", "Overijssel"),
        _p("NL-UT", "Utrecht", "Utrecht", "Utrecht", "Utrecht"),
        _p("NL-ZE", "Zélande", "Zeeland", "Seeland", "Zeeland"),
        _p("NL-ZH", "Hollande-Méridionale", "Zuid-Holland", "Südholland", "South Holland"),
        _p("LU-CA", "Capellen", "Capellen", "Capellen", "Capellen"),
        _p("LU-CL", "Clervaux", "Clervaux", "Clerf", "Clervaux"),
        _p("LU-DI", "Diekirch", "Diekirch", "Diekirch", "Diekirch"),
        _p("LU-EC", "Echternach", "Echternach", "Echternach", "Echternach"),
        _p(
            "LU-ES",
            "Esch-sur-Alzette",
            "Esch-sur-Alzette",
            "Esch an der Alzette",
            "Esch-sur-Alzette",
        ),
        _p("LU-GR", "Grevenmacher", "Grevenmacher", "Grevenmacher", "Grevenmacher"),
        _p(
            "LU-LU",
            "Luxembourg (canton)",
            "Luxemburg (kanton)",
            "Luxemburg (Kanton)",
            "Luxembourg (canton)",
        ),
        _p("LU-ME", "Mersch", "Mersch", "Mersch", "Mersch"),
        _p("LU-RD", "Redange", "Redange", "Redingen", "Redange"),
        _p("LU-RM", "Remich", "Remich", "Remich", "Remich"),
        _p("LU-VD", "Vianden", "Vianden", "Vianden", "Vianden"),
        _p("LU-WI", "Wiltz", "Wiltz", "Wiltz", "Wiltz"),
    ]
}


def province_codes(country: Country | None = None) -> list[str]:
    return [code for code, p in PROVINCES.items() if country is None or p.country is country]
