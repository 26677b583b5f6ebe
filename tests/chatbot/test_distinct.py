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
    assert "观看" in samey and "适合" not in samey
    assert echo_continuations('{"1":"Rob Minkoff 执导的动画片，适合全家', []) == []


def test_numbers_and_commas_do_not_let_a_shared_shape_through():
    """"in 20 minutes, perfect for" and "in 45 minutes, perfect for" read alike once numbers are set aside (the
    eval's measure blanks a recipe's own time): the next word is blocked, whether the comma came first or not; and
    "stars in Apollo 13, a family-friendly" follows "stars in a family-friendly" however the title ends."""
    other = '{"note":"Chicken broth and spinach make a warm soup ready in 20 minutes, perfect for a main course."}'
    assert " perfect" in echo_continuations('{"note":"Beef and carrots, a hearty stew ready in 45 minutes', [other])
    assert " perfect" in echo_continuations('{"note":"Beef and carrots, a hearty stew ready in 45 minutes,', [other])
    assert " Perfect" in echo_continuations('{"note":"Beef and carrots, a hearty stew ready in 45 minutes.', [other])
    films = ['{"note":"Christopher Lloyd stars in a family-friendly adventure comedy."}']
    names = ["ed", "harris", "apollo", "christopher", "lloyd"]  # the items' own words, as the writer passes them
    assert " family" in echo_continuations('{"note":"Ed Harris stars in Apollo 13, a', films, names)
    assert "friendly" in echo_continuations('{"note":"Ed Harris stars in Apollo 13, a family-', films, names)
    assert echo_continuations('{"note":"Beef and carrots, a hearty stew that', [other]) == []


def test_a_name_between_chinese_words_does_not_hide_a_shared_run():
    """Two Chinese notes at once: "和你喜欢的 The Matrix 相似" in one, so the other, just past the same name, may not
    write "相" (the 1.5B wrote "和你喜欢的 The Matrix 相同" beside it; the eval blanks the name)."""
    other = '{"note":"和你喜欢的 The Matrix 相似，这部电影的主角是 Laurence Fishburne。"}'
    assert "相" in echo_continuations('{"note":"和你喜欢的 The Matrix ', [other])


def test_an_items_own_words_are_read_as_names():
    """"a delicious dessert that's perfect" and "a delicious apple cobbler that's perfect": the eval blanks each
    item's own title and facts, so the writer passes them as `blank` and the shape is blocked after "delicious"."""
    from chatbot.turn.notes.measures import note_names
    from retrieval.types import Item

    cobbler = Item("r:1", "Apple Cobbler", attributes=(("category", "Dessert"),))
    blank = note_names(cobbler) + note_names(Item("r:2", "Rhubarb Pudding", attributes=(("category", "Dessert"),)))
    assert {"Apple Cobbler", "Dessert", "Rhubarb Pudding"} <= set(blank)
    other = '{"note":"Sugar, cinnamon and coconut make a delicious dessert that\'s perfect for vegans."}'
    assert " that's" in echo_continuations('{"note":"Baking apples and sugar make a delicious apple cobbler',
                                           [other], blank)


def test_case_and_spaces_do_not_hide_a_shared_shape():
    """"a Sci-Fi comedy" after "directs Spaceballs:" and "a sci-fi adventure" after "directs WALL·E," read alike
    (the eval folds case and blanks titles); in Chinese, the token after a name may begin with a space (" 相似")."""
    other = '{"note":"Andrew Stanton directs WALL·E, a sci-fi adventure for children."}'
    names = ["mel", "brooks", "spaceballs", "andrew", "stanton", "wall", "e"]
    assert "fi" in echo_continuations('{"note":"Mel Brooks directs Spaceballs: a Sci-', [other], names)
    zh = '{"note":"和你喜欢的 The Matrix 相似，这部电影的主角是 Laurence Fishburne。"}'
    assert " 相" in echo_continuations('{"note":"和你喜欢的 The Matrix', [zh])


def test_each_note_reads_only_its_own_item_s_names_as_blanks():
    """"good" is a word of "As Good as It Gets", but in Aladdin's note it is a word, as the measure reads it (each
    note blanks its own names): with one blank list for the whole answer, "a light, feel-good" was written twice."""
    aladdin = "John Musker directs Aladdin with a light, feel-good animation."
    now = "Brad Bird directs a light, feel"
    mine, theirs = ["brad", "bird", "incredibles"], ["john", "musker", "aladdin"]
    assert "-good" in echo_continuations(now, [aladdin], mine, [theirs])
    assert "-good" not in echo_continuations(now, [aladdin], mine + theirs + ["good", "gets"])  # the old way


def test_a_title_is_blanked_as_a_phrase_not_word_by_word():
    """Notes for "The War" (1994) and Platoon in one answer: "Jon Avnet directs a war film" and "Oliver Stone directs
    a war film" share the skeleton "directs a war film", as the eval counts it (it blanks the phrase "The War", not
    every "war"), so the writer blocks " film" whichever note comes second. A note that writes its own title is not
    held to the words of it: "Jon Avnet directs The War" may go on as it likes beside "directs the war film"."""
    from chatbot.turn.notes.measures import note_names, shared_skeleton, skeleton_grams
    from retrieval.types import Item

    war = note_names(Item("m:1", "War, The (1994)", year=1994, directors=("Jon Avnet",), cast=("Elijah Wood",)))
    platoon = note_names(Item("m:2", "Platoon (1986)", year=1986, directors=("Oliver Stone",)))
    war_note = "Jon Avnet directs a war film about a family in Mississippi."
    platoon_note = "Oliver Stone directs a war film about young soldiers in Vietnam."
    assert "directs a war film" in shared_skeleton(skeleton_grams(war_note, "en", war),
                                                   [skeleton_grams(platoon_note, "en", platoon)])
    assert " film" in echo_continuations('{"note":"Jon Avnet directs a war', [platoon_note], war, [platoon])
    assert " film" in echo_continuations('{"note":"Oliver Stone directs a war', [war_note], platoon, [war])
    assert echo_continuations('{"note":"Jon Avnet directs The War', ["Oliver Stone directs the war film Platoon."],
                              war, [platoon]) == []


def test_a_note_says_each_word_once():
    """"a cozy, funny, cozy story for a cozy heart": a word a note has said is one it may not say again, the
    item's own names and small words aside ("film" twice is fine), and a word still being written is not said yet."""
    from chatbot.llm.distinct import words_said_twice, said_words

    padded = '{"1":"A heartwarming, cozy adventure film about monsters: a cozy, funny, cozy story for a cozy heart."}'
    assert words_said_twice(padded) == ["cozy"]
    assert said_words('{"1":"A heartwarming, cozy adventure about') == ["heartwarming", "cozy", "adventure"]
    assert said_words('{"1":"A romantic, thrill') == ["romantic"]  # "thrill" may become "thrilling"
    names = ["Tom Hanks", "Forrest Gump"]
    gump = "Tom Hanks stars in Forrest Gump, a film about a simple man: a moving film with Tom Hanks at his best."
    assert words_said_twice(gump, names) == []
    assert words_said_twice("Tom Hanks stars in a romantic comedy: a romantic, funny story.", names) == ["romantic"]


def test_a_chinese_note_says_each_pair_of_characters_once():
    """"适合你想要的浪漫感觉" after "浪漫喜剧": two characters said twice are padding; pairs with a small word in them
    ("一部", "你想要") may come back, and a name is not read."""
    from chatbot.llm.distinct import words_said_twice, said_words

    assert words_said_twice("Tim Story 执导的浪漫喜剧，适合你那种喜欢温馨浪漫的电影。") == ["浪漫"]
    assert words_said_twice("1971年的战争片，战争场面激烈，适合你要求的战争类型。") == ["战争"]
    assert words_said_twice("这是一部喜剧，也是一部你想要的、你想要的轻松电影。") == []
    assert words_said_twice("成龙主演的动作片，成龙的打斗精彩。", ["成龙"]) == []
    assert "浪漫" in said_words('{"1":"浪漫喜剧，适合')
