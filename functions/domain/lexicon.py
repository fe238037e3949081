"""Heed's built-in triage vocabulary: small, offline, per language (en, nl, de, es, fr).

Data only; :mod:`functions.domain.triage` uses it and the policy file's
``[triage.languages.<code>]`` tables add to it. Words are lower case and
accent-folded the way :func:`functions.domain.triage.tokens` folds text
("geen" stays "geen", "déçu" becomes "decu"). Sentiment scores run from -3
(very negative) to +3; a negator shortly before a word flips it.

Phrases (several words) match on word boundaries in the folded text.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Vocabulary:
    stopwords: frozenset[str]
    negators: frozenset[str]
    intensifiers: frozenset[str]
    sentiment: dict[str, float]
    noise: frozenset[str]  # whole messages made only of these phrases are noise
    profanity: frozenset[str]
    complaint: frozenset[str]
    praise: frozenset[str]
    question: frozenset[str]  # words that open a question
    last_resort: frozenset[str]


def _words(text: str) -> frozenset[str]:
    return frozenset(w.strip() for w in text.split(",") if w.strip())


def _scores(**groups: str) -> dict[str, float]:
    scale = {"vneg": -3.0, "neg": -2.0, "mneg": -1.0, "mpos": 1.0, "pos": 2.0, "vpos": 3.0}
    return {word: scale[group] for group, words in groups.items() for word in _words(words)}


# Emoji carry sentiment in every language.
EMOJI_SENTIMENT: dict[str, float] = {
    "😡": -3, "🤬": -3, "😠": -2, "😤": -2, "👎": -2, "😞": -2, "😢": -2, "😭": -2, "💩": -2, "🙄": -1, "😒": -1,
    "🙂": 1, "😊": 2, "😀": 2, "😃": 2, "😄": 2, "😍": 3, "🥰": 3, "❤": 3, "❤️": 3, "💕": 3, "👍": 2, "👏": 2,
    "🙏": 1, "🎉": 2, "😂": 1, "🤣": 1,
}

VOCABULARIES: dict[str, Vocabulary] = {
    "en": Vocabulary(
        stopwords=_words("a, an, the, and, or, but, if, then, so, to, of, in, on, at, for, with, from, by, about, "
                         "as, into, is, are, was, were, be, been, being, am, do, does, did, have, has, had, i, me, "
                         "my, mine, you, your, yours, we, our, us, they, them, their, he, she, it, its, this, that, "
                         "these, those, there, here, what, which, who, whom, when, where, why, how, all, any, some, "
                         "no, not, just, still, again, very, too, can, could, will, would, should, shall, may, "
                         "might, must, up, down, out, off, over, after, before, now, today, yesterday, im, ive, "
                         "dont, doesnt, didnt, cant, wont, isnt, its, thats, please, hi, hello, hey, get, got, "
                         "keep, keeps, also, every, time, times, one, more, than, only, even, really, while"),
        negators=_words("not, no, never, dont, doesnt, didnt, isnt, wasnt, cant, cannot, wont, nothing, nobody, "
                        "without"),
        intensifiers=_words("very, really, so, extremely, totally, absolutely, super"),
        sentiment=_scores(
            vneg="horrible, terrible, awful, worst, disgusting, scam, useless, furious, unacceptable, pathetic",
            neg="bad, broken, angry, disappointed, disappointing, poor, wrong, failed, fails, failing, hate, "
                "rude, slow, lost, missing, refund, annoyed, frustrated, "
                "frustrating, ridiculous, nightmare, joke",
            mneg="problem, issue, error, late, delay, delayed, stuck, cancel, complaint, unhappy, bug, crash, crashes, "
                 "crashed, crashing, freezes, frozen",
            mpos="ok, fine, fair, helpful, quick, fast, nice, good",
            pos="great, happy, thanks, thank, glad, pleased, works, solved, fixed, recommend",
            vpos="love, excellent, amazing, awesome, perfect, fantastic, wonderful, brilliant, best"),
        noise=_words("thanks, thank you, thank you so much, thanks a lot, thx, ty, tysm, lol, lmao, haha, hahaha, "
                     "ok, okay, k, kk, cool, nice, great, yay, wow, like, liked, love it, omg, ok thanks, "
                     "you too, cheers, bye, good night, gm, gn"),
        profanity=_words("fuck, fucking, fucked, shit, shitty, bullshit, crap, damn, bitch, bastard, asshole, "
                         "wtf, dick, piss, pissed"),
        complaint=_words("broken, not working, doesnt work, dont work, didnt arrive, never arrived, never received, "
                         "refund, complaint, complain, terrible, awful, worst, disappointed, unacceptable, "
                         "crash, crashes, crashing, crashed, error, charged twice, overcharged, missing, damaged, "
                         "wrong order, late, delayed, still waiting, scam, rip off, useless, problem, issue"),
        praise=_words("love, amazing, awesome, excellent, great service, thank you so much, well done, best, "
                      "fantastic, perfect, recommend, brilliant"),
        question=_words("what, when, where, why, how, who, which, can, could, is, are, do, does, did, will, "
                        "would, should, any"),
        last_resort=_words("called three times, called 3 times, called twice, nobody answers, no one answers, "
                           "nobody answered, no one answered, no response, no reply, still no answer, "
                           "cancel, cancelling, canceling, cancel my, last time, never again, lawyer, "
                           "chargeback, report you, consumer protection, switching to, fed up"),
    ),
    "nl": Vocabulary(
        stopwords=_words("de, het, een, en, of, maar, als, dan, dus, te, van, in, op, aan, voor, met, bij, uit, "
                         "over, naar, om, tot, is, zijn, was, waren, ben, bent, wordt, worden, heb, hebt, heeft, "
                         "hebben, had, ik, mij, me, mijn, jij, je, jou, jouw, u, uw, wij, we, ons, onze, zij, ze, "
                         "hun, hij, haar, dit, dat, deze, die, er, hier, daar, wat, wie, waar, wanneer, waarom, "
                         "hoe, welke, al, alle, nog, weer, heel, erg, zeer, ook, wel, niet, geen, kan, kunnen, "
                         "zal, zou, moet, moeten, mag, wil, nu, vandaag, gisteren, graag, hoi, hallo, "
                         "steeds, keer, elke, telkens, bij, na"),
        negators=_words("niet, geen, nooit, niets, niemand, zonder"),
        intensifiers=_words("heel, erg, zeer, echt, super, enorm, totaal"),
        sentiment=_scores(
            vneg="verschrikkelijk, vreselijk, waardeloos, belachelijk, schandalig, oplichting, oplichters, "
                 "slechtste, onacceptabel",
            neg="slecht, kapot, boos, teleurgesteld, teleurstellend, fout, traag, kwijt, verloren, "
                "haat, onbeschoft, frustrerend, geld terug",
            mneg="probleem, storing, fout, te laat, vertraging, vertraagd, annuleren, klacht, crasht, gecrasht, "
                 "vastgelopen, hangt",
            mpos="oke, prima, redelijk, snel, handig, aardig",
            pos="goed, blij, bedankt, dank, dankjewel, fijn, werkt, opgelost, tevreden, aanrader",
            vpos="geweldig, fantastisch, perfect, super, top, uitstekend, prachtig, beste"),
        noise=_words("bedankt, dank je, dank u, dankjewel, dankuwel, dank je wel, dank u wel, thanks, top, oke, "
                     "ok, prima, haha, hahaha, lol, super, mooi, fijn, doei, groetjes, tot ziens"),
        profanity=_words("kut, kanker, klote, shit, godverdomme, tering, tyfus, lul, eikel, klootzak, kankerlijer"),
        complaint=_words("kapot, werkt niet, doet het niet, niet ontvangen, nooit ontvangen, niet aangekomen, "
                         "nooit aangekomen, "
                         "geld terug, klacht, klagen, slecht, teleurgesteld, waardeloos, crasht, storing, "
                         "dubbel betaald, te laat, vertraging, beschadigd, verkeerde bestelling, wacht nog steeds, "
                         "probleem, oplichting"),
        praise=_words("geweldig, fantastisch, top service, heel erg bedankt, goed gedaan, aanrader, uitstekend, "
                      "tevreden"),
        question=_words("wat, wanneer, waar, waarom, hoe, wie, welke, kan, kunnen, is, zijn, heb, hebben, wordt, "
                        "mag, zou"),
        last_resort=_words("drie keer gebeld, 3 keer gebeld, twee keer gebeld, niemand neemt op, "
                           "niemand reageert, geen reactie, geen antwoord, nog steeds geen antwoord, opzeggen, "
                           "annuleren, zeg ik op, laatste keer, nooit meer, advocaat, consumentenbond, "
                           "overstappen, ben het zat"),
    ),
    "de": Vocabulary(
        stopwords=_words("der, die, das, ein, eine, und, oder, aber, wenn, dann, zu, von, in, im, auf, an, fur, "
                         "mit, bei, aus, uber, nach, um, ist, sind, war, waren, bin, bist, wird, habe, hast, hat, "
                         "haben, ich, mich, mir, mein, meine, du, dein, sie, ihr, wir, uns, unser, er, es, dies, "
                         "dieser, diese, hier, da, was, wer, wo, wann, warum, wie, welche, noch, schon, sehr, "
                         "auch, nicht, kein, keine, kann, konnen, soll, muss, jetzt, heute, hallo, bitte, mal"),
        negators=_words("nicht, kein, keine, nie, niemals, nichts, niemand, ohne"),
        intensifiers=_words("sehr, echt, total, extrem, super, wirklich"),
        sentiment=_scores(
            vneg="schrecklich, furchtbar, katastrophe, unverschamt, betrug, nutzlos, inakzeptabel",
            neg="schlecht, kaputt, wutend, enttauscht, falsch, langsam, verloren, absturz, sturzt, hasse",
            mneg="problem, fehler, verspatung, spat, storung, reklamation, beschwerde",
            mpos="ok, okay, gut, schnell, nett",
            pos="danke, froh, zufrieden, funktioniert, gelost, prima",
            vpos="toll, super, perfekt, hervorragend, fantastisch, wunderbar, liebe"),
        noise=_words("danke, danke schon, vielen dank, ok, okay, haha, lol, super, top, tschuss"),
        profanity=_words("scheisse, scheiss, verdammt, arschloch, mist, fick"),
        complaint=_words("kaputt, funktioniert nicht, nicht angekommen, nie angekommen, geld zuruck, beschwerde, "
                         "reklamation, enttauscht, sturzt ab, fehler, doppelt bezahlt, verspatung, problem"),
        praise=_words("toll, super service, hervorragend, perfekt, vielen herzlichen dank, empfehlenswert"),
        question=_words("was, wann, wo, warum, wie, wer, welche, kann, konnen, ist, sind, gibt, habt"),
        last_resort=_words("dreimal angerufen, niemand antwortet, keine antwort, kundige, kundigen, stornieren, "
                           "anwalt, verbraucherzentrale, letzte mal, nie wieder"),
    ),
    "es": Vocabulary(
        stopwords=_words("el, la, los, las, un, una, y, o, pero, si, de, del, en, a, al, por, para, con, sin, "
                         "sobre, es, son, era, fue, ser, estar, esta, estoy, he, ha, han, yo, me, mi, mis, tu, "
                         "te, su, sus, nosotros, nos, ellos, que, quien, donde, cuando, como, porque, todo, "
                         "todos, muy, tambien, ya, aun, todavia, no, hola, hoy, ayer, lo, le, se"),
        negators=_words("no, nunca, nada, nadie, sin, jamas"),
        intensifiers=_words("muy, super, totalmente, realmente"),
        sentiment=_scores(
            vneg="horrible, terrible, pesimo, estafa, inaceptable, asqueroso, inutil",
            neg="malo, mal, roto, enfadado, decepcionado, lento, perdido, falla, error",
            mneg="problema, retraso, tarde, queja, cancelar",
            mpos="bien, ok, rapido, amable",
            pos="gracias, contento, feliz, funciona, resuelto, bueno",
            vpos="excelente, genial, perfecto, increible, encanta, maravilloso"),
        noise=_words("gracias, muchas gracias, ok, vale, jaja, jajaja, lol, genial, perfecto, saludos"),
        profanity=_words("mierda, joder, puta, cabron, carajo, coño, cono"),
        complaint=_words("roto, no funciona, no llego, nunca llego, reembolso, queja, reclamacion, decepcionado, "
                         "error, cobro doble, retraso, problema, estafa"),
        praise=_words("excelente, genial servicio, perfecto, increible, recomiendo"),
        question=_words("que, cuando, donde, por que, como, quien, cual, puedo, pueden, hay"),
        last_resort=_words("llame tres veces, nadie contesta, nadie responde, sin respuesta, cancelar, darme de baja, "
                           "abogado, ultima vez, nunca mas"),
    ),
    "fr": Vocabulary(
        stopwords=_words("le, la, les, un, une, des, et, ou, mais, si, de, du, en, a, au, aux, pour, par, avec, "
                         "sans, sur, est, sont, etait, etre, ai, as, avons, ont, je, me, moi, mon, ma, mes, tu, "
                         "te, ton, vous, votre, vos, nous, notre, ils, elles, il, elle, ce, cette, ces, que, qui, "
                         "ou, quand, comment, pourquoi, tout, tous, tres, aussi, deja, encore, ne, pas, bonjour, "
                         "aujourd, hui, hier, y, se, sa, son, leur"),
        negators=_words("ne, pas, jamais, rien, personne, sans, aucun"),
        intensifiers=_words("tres, vraiment, super, totalement"),
        sentiment=_scores(
            vneg="horrible, terrible, nul, arnaque, inacceptable, scandaleux, inutile",
            neg="mauvais, casse, fache, decu, decevant, lent, perdu, panne, plante, erreur",
            mneg="probleme, retard, souci, reclamation, annuler",
            mpos="ok, bien, rapide, sympa",
            pos="merci, content, heureux, fonctionne, resolu, bon",
            vpos="excellent, genial, parfait, incroyable, adore, formidable"),
        noise=_words("merci, merci beaucoup, ok, d accord, mdr, haha, lol, super, top, bonne journee"),
        profanity=_words("merde, putain, connard, bordel, salaud, enfoire"),
        complaint=_words("casse, ne marche pas, ne fonctionne pas, pas recu, jamais recu, remboursement, "
                         "reclamation, decu, erreur, paye deux fois, retard, probleme, arnaque, plante"),
        praise=_words("excellent, genial, parfait, incroyable, je recommande, bravo"),
        question=_words("que, quand, ou, pourquoi, comment, qui, quel, quelle, est ce que, pouvez, puis"),
        last_resort=_words("appele trois fois, personne ne repond, aucune reponse, pas de reponse, annuler, "
                           "resilier, avocat, derniere fois, plus jamais"),
    ),
}

# Links with giveaway/crypto/prize bait: spam in any language. Compiled with re.S (``.`` spans lines).
# Linear in the text, whatever it holds (tests/unit/test_triage.py, tests/bench/test_hostile_text_bench.py):
# anchored at the start, as unanchored each position would scan the rest of the text again, and with an
# atomic group where a failing scan would otherwise start over from every later occurrence.
SPAM_PATTERNS: tuple[str, ...] = (
    r"\A(?=.*?(?:https?://|www\.|[a-z0-9-]\.(?:ly|io|xyz|link|click|top|info|gg)\b))"
    r".*?\b(?:giveaway|give away|crypto|bitcoin|btc|eth|usdt|airdrop|nft|free iphone|free\s+gift|claim your|"
    r"you(?:'ve| have)? won|winner|double your|investment opportunity|earn \$?\d+|promo code)",
    r"\b(?:dm|message) me (?:to|for) (?:earn|invest|profit|crypto)",
    r"\A(?>.*?\bfree\s++iphone\b).*?\b(?:click|link|dm)\b",
)
