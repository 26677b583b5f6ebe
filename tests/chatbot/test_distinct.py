"""Answers written side by side do not read alike: each may not go on after three words (Chinese: five
characters) as another answer of the batch did (`chatbot.llm.distinct`)."""

from __future__ import annotations

from chatbot.llm.distinct import echo_continuations


def test_an_answer_may_not_continue_three_words_as_another_did():
    """The shape five notes fell into ("<name> directs a family-friendly adventure") is blocked at its fourth word,
    names aside; words that only start alike are not."""
    other = '{"1":"Bob Peterson directs a family-friendly adventure for a rainy night in."}'
    assert " friendly" in echo_continuations('{"1":"Hayao Miyazaki directs a family', [other])
    assert " adventure" in echo_continuations('{"1":"Brad Bird, who directs a family-friendly', [other])
    assert " Adventure" in echo_continuations('{"1":"Brad Bird, who directs a family-friendly', [other])  # capitalised
    assert " night" in echo_continuations('{"1":"Perfect for a rainy', [other])
    assert echo_continuations('{"1":"Hayao Miyazaki directs a fam', [other]) == []  # its word is not written yet
    assert echo_continuations('{"1":"A warm story of a family', [other]) == []  # other words before "a family"
    assert echo_continuations('{"1":"Perfect for a rainy', []) == []


def test_chinese_answers_may_not_share_six_characters():
    """Five characters another note went on after: the next character is what this one may not write. Fewer
    shared characters: what would complete the run of six in one token ("观看" after "适合全家": the 1.5B wrote
    "适合全家观看" in three of five notes of one answer, as "观看" is one token)."""
    other = '{"1":"宫崎骏执导的动画，适合下雨的晚上和孩子一起看。"}'
    assert "和" in echo_continuations('{"1":"Brad Bird 的动画冒险，适合下雨的晚上', [other])
    assert "的晚" in echo_continuations('{"1":"Brad Bird 的动画冒险，适合下雨', [other])
    assert "的" not in echo_continuations('{"1":"Brad Bird 的动画冒险，适合下雨', [other])  # four: not yet
    samey = echo_continuations('{"1":"Rob Minkoff 执导的动画片，适合全家', ['{"1":"动画片，导演是 John Lasseter，适合全家观看。"}'])
    assert samey == ["观看"]
    assert echo_continuations('{"1":"Rob Minkoff 执导的动画片，适合全家', []) == []
