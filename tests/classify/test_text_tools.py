"""The pieces around the model: lexicon, speller, augmentation, courtesies and names."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from engage.classify import augment, lexicon
from engage.classify import text as text_module
from engage.classify.corpus import HOLDOUT_PATH, THEMES, default_corpus_paths, load_corpus
from engage.classify.model import FILLER
from engage.classify.spelling import Speller, english_words
from engage.classify.text import normalise

# ------------------------------------------------------------------------- lexicon


def test_phrases_match_whole_words_prefixes_and_symbols():
    phrases = ["a&e", "£", "redundanc*", "cost-cutting", "listen to the doctors", "pot"]
    text = "A&E gone, £5m of cost cutting, REDUNDANCIES. Listen to the doctors! Potholes."
    assert lexicon.matches(text, phrases) == [
        "a&e",
        "£",
        "cost cutting",
        "redundancies",
        "listen to the doctors",
    ]
    assert lexicon.matches("a & e and the potter", ["a&e", "pot"]) == []


def test_a_phrase_cannot_smuggle_in_a_pattern():
    # Regular-expression syntax is literal text: nothing matches everything.
    assert lexicon.matches("any text at all", [".*", "(a|b)+", "\\w+"]) == []
    assert lexicon.matches("a b", ["(a|b)+"]) == ["a b"]  # its words, literally
    with pytest.raises(ValueError):
        lexicon.compile_phrase(".*")


def test_lexicon_features_count_distinct_phrases_per_theme():
    features = lexicon.LexiconFeatures([["m", ["money", "budget*"]], ["s", ["a&e"]]], 2.0)
    X = features.fit([]).transform(["money money budgets", "nothing here", "A&E"]).toarray()
    assert X.shape == (3, 2)
    assert X[0, 0] == pytest.approx(2.0 * np.log1p(2))  # two distinct phrases, not three
    assert X[1].tolist() == [0.0, 0.0]
    assert X[2, 1] == pytest.approx(2.0 * np.log1p(1))
    assert list(features.get_feature_names_out()) == ["lexicon:m", "lexicon:s"]
    state = features.__getstate__()
    assert "_compiled" not in state and state["lexicon"][0][1] == ["money", "budget*"]
    again = pickle.loads(pickle.dumps(features))
    assert np.array_equal(again.transform(["money money budgets"]).toarray(), X[:1])


def test_every_theme_has_a_lexicon_and_no_phrase_is_empty():
    assert tuple(lexicon.LEXICON) == THEMES
    for phrases in lexicon.LEXICON.values():
        assert len(phrases) > 50
        for phrase in phrases:
            assert lexicon.compile_phrase(phrase)


# ------------------------------------------------------------------------- speller


@pytest.fixture
def speller():
    return Speller(["people", "funding", "hospital", "staff", "cuts", "nothing", "closed"])


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("peolpe", "people"),  # two letters swapped
        ("fundng", "funding"),  # a letter dropped
        ("hosspital", "hospital"),  # a letter doubled
        ("hospitol", "hospital"),  # a letter changed
        ("staaff", "staff"),
        ("cuuts", "cuts"),  # back to a four-letter word
        ("cutz", "cuts"),  # a four-letter word mistyped
    ],
)
def test_one_slip_goes_back_to_the_known_word(speller, typed, meant):
    assert speller.correct(typed) == meant


def test_known_short_and_far_words_are_left_alone(speller):
    assert speller.correct("people") is None  # known
    assert speller.correct("ctz") is None  # under four letters
    assert speller.correct("hsopitla") is None  # more than one slip
    assert (
        speller.fix("As a GP in Notting Hill I see peolpe.")
        == "As a GP in Notting Hill I see people."
    )
    assert speller.fix("Fundng is short. Hosptal closed.") == "funding is short. hospital closed."


def test_the_commonest_candidate_wins():
    assert Speller(["cared", "cares"]).correct("carex") == "cared"
    assert Speller(["cares", "cared"]).correct("carex") == "cares"


def test_a_real_english_word_is_not_taken_for_a_slip():
    """Real comments were read wrongly: "My grand parents relied on the hospital" became
    "grant" (money); a real word stays unless the correction is far commoner."""
    english = english_words()
    speller = Speller(["grant", "health", "design", "resources", "spending"], english=english)
    assert speller.correct("grand") is None  # as common as "grant": a word of its own
    assert speller.correct("heath") == "health"  # rare next to "health": a slip
    assert speller.correct("deign") == "design"
    assert speller.correct("desgin") == "design"  # not a word at all
    assert "goverment" not in english and "recieve" not in english
    assert speller.fix("My grand parents") == "My grand parents"
    assert Speller(["grant"]).correct("grand") == "grant"  # without the word list


# -------------------------------------------------------------------- augmentation


def test_augment_adds_wrapped_copies_with_the_same_labels():
    texts = ["Keep the A&E open.", "Where does the money go?"]
    Y = np.array([[0, 0, 0, 1, 0], [1, 0, 0, 0, 0]])
    out, Y_out = augment.augment(texts, Y, copies=2, seed=1)
    assert len(out) == 6 and Y_out.shape == (6, 5)
    assert out[:2] == texts
    for i, text in enumerate(out[2:]):
        original = texts[i % 2]
        assert original in text and text != original
        assert (Y_out[2 + i] == Y[i % 2]).all()
        assert normalise(text) == original  # what training sees is the item itself
    assert augment.augment(texts, Y, copies=2, seed=1)[0] == out  # reproducible
    assert augment.augment(texts, Y, copies=0)[0] == texts


# ---------------------------------------------------------------- courtesies, names


@pytest.mark.parametrize(
    ("text", "own_words"),
    [
        (
            "Dear engagement team, Keep the A&E open. I look forward to your response.",
            "Keep the A&E open.",
        ),
        ("Keep the A&E open. I await your reply with interest.", "Keep the A&E open."),
        ("what about mental health Thank you for reading my comments.", "what about mental health"),
        ("Dear Dr Ahmed, Dear colleagues,\n\nThe budget is short.", "The budget is short."),
    ],
)
def test_courtesies_are_cut(text, own_words):
    assert normalise(text) == own_words


@pytest.mark.parametrize(
    "text",
    [
        "Keep it. I look forward to hearing how you will fund the hospital.",
        "Keep the A&E open. Thanks for closing our clinic.",  # sarcasm is feedback
        "Thank you for your time.",  # nothing would be left
        "Hi there is no bus to the hospital.",
    ],
)
def test_a_sentence_with_a_theme_in_it_is_kept(text):
    assert normalise(text) == text


def test_long_names_of_bodies_are_shortened():
    text = "The Clinical Commissioning Groups and the integrated care board; Accident & Emergency"
    assert normalise(text) == "The CCG and the ICB; A&E"


# ------------------------------------------------------------- who is quoted (conv. 23)


@pytest.mark.parametrize(
    ("text", "own_words"),
    [
        (
            "GP leaders in the area said it was an appalling situation.",
            "they said it was an appalling situation.",
        ),
        (
            "Dr A Shah, chair of the LMC's GP committee, told the BBC that lists are closing.",
            "they told the BBC that lists are closing.",
        ),
        (
            '"It will cost lives," said Ann Lee, GMB regional officer. Nobody listened.',
            '"It will cost lives," said. Nobody listened.',
        ),
        (  # a single quote closes the words, as British papers print them
            "'It will cost lives,' said Ann Lee, GMB regional officer. Nobody listened.",
            "'It will cost lives,' said. Nobody listened.",
        ),
        (  # the same, curled: normalise() folds it to the plain quote first
            "\u2018It will cost lives,\u2019 said Ann Lee, GMB regional officer.",
            "'It will cost lives,' said.",
        ),
        (
            'The ward shut. Unite lead officer Jo Bell added: "Patients lose out."',
            'The ward shut. they added: "Patients lose out."',
        ),
    ],
)
def test_a_speaker_named_by_a_role_is_cut(text, own_words):
    assert normalise(text) == own_words


@pytest.mark.parametrize(
    "text",
    [
        "GPs said they were never asked about the merger.",  # who speaks is the point
        "The BMA said GPs must have seats on the board.",  # a body, no role named
        "A Gainsborough councillor has said he struggles to have confidence in the trust.",
        "The practice manager admitted it had been hard to recruit, but said locums help.",
        "The chair of the CCG was never asked about the closure.",  # no reporting verb
        "Our councillor said nothing for months while the ward closed.",  # the point
        "Residents of the three villages around the old cottage hospital at the far end of "
        "the valley road where the manager once lived said the bus is the only way in.",
    ],
)
def test_words_that_say_something_are_kept(text):
    assert normalise(text) == text


def test_a_byline_no_longer_reads_as_clinical_leadership(shipped_model):
    quoted = "It is a patient-safety critical incident and patients cannot get through."
    bylined = f'GP leaders in the area said: "{quoted}"'
    alone, with_byline = shipped_model.predict_proba([quoted, bylined])
    k = THEMES.index("clinical-leadership")
    assert with_byline[k] == pytest.approx(alone[k], abs=0.05)
    assert "clinical-leadership" not in {t for t, _ in shipped_model.predict([bylined])[0]}


# ------------------------------------------------------------------------- explain


def test_explanations_hold_no_filler_words(shipped_model):
    text = "And that is more of the same: the budget deficit means more cuts to funding."
    words = [w for w, _ in shipped_model.explain(text, "money", top=10)]
    assert words, "money must have reasons here"
    for phrase in words:
        assert phrase not in FILLER
        assert not all(w in FILLER for w in phrase.split())
    assert any(w in words for w in ("budget", "deficit", "funding", "budget deficit"))


# ------------------------------------------------------------------------ contexts


def test_contexts_count_sentences_holding_both_sides():
    features = lexicon.LexiconFeatures(
        [["m", ["money"]]], 1.0, [["deciding", ["gps"], ["board", "asked"]]]
    )
    text = "GPs were never asked. The board met. GPs sit on the board and were asked twice."
    assert features.context_sentences(text) == [
        ["GPs were never asked.", "GPs sit on the board and were asked twice."]
    ]
    X = features.fit([]).transform([text, "The board asked. GPs agreed."]).toarray()
    assert X[:, 1].tolist() == pytest.approx([np.log1p(2), 0.0])  # apart, they count nothing
    assert list(features.get_feature_names_out()) == ["lexicon:m", "context:deciding"]
    assert "_compiled" not in features.__getstate__()


def test_one_pass_reads_themes_across_sentences_and_contexts_within_one():
    # The themes' phrases and the contexts' sides are matched in one pass over the
    # text's tokens: a theme phrase may run over a full stop as it always could, a
    # context side may not, and a sentence is counted once however often it matches.
    features = lexicon.LexiconFeatures(
        [["m", ["pooled budget"]], ["d", ["board"]]],
        1.0,
        [["deciding", ["gp leaders"], ["board"]], ["money talk", ["pooled"], ["budget"]]],
    )
    text = (
        "The money was pooled. Budget holders met the board about GP. Leaders sat apart. "
        "GP leaders on the board, the board and the board again."
    )
    assert features.context_sentences(text) == [
        ["GP leaders on the board, the board and the board again."],
        [],
    ]
    X = features.fit([]).transform([text]).toarray()[0]
    assert X.tolist() == pytest.approx([np.log1p(1), np.log1p(1), np.log1p(1), 0.0])


def test_shipped_contexts_read_clinicians_deciding_and_staff_praised():
    features = lexicon.LexiconFeatures(None, 1.0, lexicon.default_contexts())
    names = [name for name, *_ in lexicon.default_contexts()]
    found = dict(
        zip(names, features.context_sentences("The consultants were overruled by the board."))
    )
    assert found["clinicians deciding"] and not found["staff praised"]
    found = dict(zip(names, features.context_sentences("The nurses were wonderful to my dad.")))
    assert found["staff praised"] and not found["clinicians deciding"]


def test_clinicians_named_beside_their_commissioning_group_is_a_context():
    # Round 15: GPs writing about the CCG they are members of (convention 7).
    features = lexicon.LexiconFeatures(None, 1.0, lexicon.default_contexts())
    names = [name for name, *_ in lexicon.default_contexts()]

    def found(text: str) -> list[str]:
        return dict(zip(names, features.context_sentences(text), strict=True))[
            "clinicians commissioning"
        ]

    assert found("CCGs are being developed in ways that GPs are unhappy with. So be it.") == [
        "CCGs are being developed in ways that GPs are unhappy with."
    ]
    assert found("Docs on the ICB should run it.")
    assert not found("My GP referred me to the hospital. The CCG pays for it.")
    assert not found("The CCG has cut the budget again.")


def test_clinicians_deciding_is_a_reason_staff_can_read(shipped_model):
    text = "The GPs were never asked by the board whether they supported the merger."
    reasons = [w for w, _ in shipped_model.explain(text, "clinical-leadership", top=10)]
    assert "clinicians deciding" in reasons


def test_a_lexicon_saved_before_contexts_still_loads():
    old = lexicon.LexiconFeatures([["m", ["money"]]], 1.0)
    state = old.__getstate__()
    del state["contexts"]  # as a model file written before contexts existed holds it
    loaded = lexicon.LexiconFeatures.__new__(lexicon.LexiconFeatures)
    loaded.__setstate__(state)
    assert loaded.transform(["money"]).toarray().tolist() == [[pytest.approx(np.log1p(1))]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Keep consultant-led maternity at Pilgrim.", "Keep acute maternity at Pilgrim."),
        ("A 24 hour consultant led service.", "A 24 hour acute service."),
        ("Obstetric-led births will move.", "acute births will move."),
        ("Midwife-led care is not enough.", "maternity care is not enough."),
        ("Staff across the board are tired.", "Staff throughout are tired."),
        ("The Care Quality Commission shut the practice.", "The CQC shut the practice."),
    ],
)
def test_care_models_named_after_their_staff_read_as_services(text, expected):
    assert normalise(text) == expected


def test_clinicians_who_led_something_stay_clinicians():
    text = "The consultants led the review and the GP-led board signed it off."
    assert normalise(text) == text


def test_name_rewrites_skipped_by_their_words_give_the_same_text():
    """normalise() runs a name rewrite only on a text holding one of its words; on the
    corpus, the holdout and cases where one rewrite makes another's match, that gives
    what running every rewrite on every text gives."""
    texts, _ = load_corpus([*default_corpus_paths(), HOLDOUT_PATH])
    texts += [
        "GP medical practices are closing.",  # "surgeries", then "GP surgeries"
        "The CLINICAL COMMISSIONING GROUP and the Care Quality Commission",
        "consultant-led maternity at the midwife-led unit, across the board",
    ]

    def every_rewrite(text: str) -> str:
        for pattern, short, _ in text_module._NAMES:
            text = pattern.sub(short, text)
        return text

    shortened = [text_module._shorten_names(t) for t in texts]
    assert shortened == [every_rewrite(t) for t in texts]
    assert sum(a != b for a, b in zip(shortened, texts, strict=True)) > 100  # it rewrites
    assert shortened[-3] == "surgeries are closing."
    assert normalise(texts[-2]) == "The CCG and the CQC"


def test_matcher_finds_with_its_word_cache_what_it_finds_without():
    """The matcher keeps, per word, the phrases starting with it; over the corpus that
    finds the same spans as looking every word up under every prefix afresh."""
    matcher = lexicon._Matcher(lexicon.default_lexicon(THEMES))

    def afresh(toks):
        out = []
        for i, tok in enumerate(toks):
            candidates = list(matcher.exact.get(tok, ()))
            for length in matcher.prefix_lengths:
                if length <= len(tok):
                    candidates.extend(matcher.prefix.get(tok[:length], ()))
            for phrase, k in candidates:
                words = toks[i : i + len(phrase)]
                if len(words) == len(phrase) and all(
                    t.startswith(w) if pre else t == w
                    for t, (w, pre) in zip(words, phrase, strict=True)
                ):
                    out.append((i, i + len(phrase), k))
        return sorted(out)

    texts, _ = load_corpus(default_corpus_paths())
    found = 0
    for text in texts[::3] + texts[::3]:  # the second time from the cache
        toks = lexicon.tokens(normalise(text))
        spans = matcher.spans(toks)
        assert sorted(spans) == afresh(toks)
        found += len(spans)
    assert found > 10_000 and matcher._by_word


def _curl(text: str) -> str:
    """Quotes as phones and word processors type them: ’ for ', “ and ” for "."""
    text = text.replace("'", "\u2019")
    opened = False
    out = []
    for ch in text:
        if ch == '"':
            out.append("\u201d" if opened else "\u201c")
            opened = not opened
        else:
            out.append(ch)
    return "".join(out)


def test_curled_quotes_read_as_plain_ones():
    """The corpus is written with ' and "; real mail curls them. The same words with
    curled quotes must give the model the same text (round 12, docs/data-card.md)."""
    texts, _ = load_corpus([*default_corpus_paths(), HOLDOUT_PATH])
    quoted = [t for t in texts if "'" in t or '"' in t]
    assert len(quoted) > 1000
    assert [normalise(_curl(t)) for t in quoted] == [normalise(t) for t in quoted]
    assert normalise("Keep the doctors\u2019 surgery open") == "Keep the surgery open"
    assert normalise("\u2018It\u2019s a \u201cdone deal\u201d\u2019") == "'It's a \"done deal\"'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What about face to face GP consultations?", "What about face to face appointments?"),
        ("A phone consultation with my GP took weeks.", "A appointment with my GP took weeks."),
        ("Voices carry from the consultation rooms.", "Voices carry from the clinic room."),
        # The public's consultation keeps its word.
        ("Hold a face-to-face consultation in every borough.", None),
        ("Use the online consultation hub.", None),
        ("A telephone consultation event in May.", None),
        ("The CCG consultation was a sham.", None),
    ],
)
def test_a_consultation_with_a_clinician_reads_as_an_appointment(text, expected):
    assert normalise(text) == (text if expected is None else expected)
