"""The patterns the note checker reads a note with: claims of a story, a setting, having seen the film, the
prompt's own words, the person's weather said as theirs, names and titles written in Chinese."""

from __future__ import annotations

import re

from chatbot.turn.notes.qualities import PLOT_PRAISE_ZH
from chatbot.turn.notes.situation import WEATHER_KINDS

# A claim that the person already saw or liked this film (the notes are for films they have not seen).
CLAIMS_SEEN = re.compile(
    r"(?<!if )(?<!If )\byou(?:'ve| have)? (?:already )?(?:enjoyed|loved|seen|watched)\b(?! it before)|你(?:看过|喜欢过)",
)
# Phrases that tell a story; allowed only when the sheet has a plot.
# A role or a character with a deed ("plays a lonely boy who finds...") is a story too: the sheet names the cast,
# never their parts; a word between the article and the character is no "for" ("a warm snack for friends that are
# vegan" tells no story).
CHARACTER = (r"(?:boy|girl|man|woman|men|women|kid|child|children|family|couple|detective|cop|soldier|teen\w*|"
             r"doctor|king|queen|prince|princess|robot|dog|cat|bear|toy|doll|hero|heroine|father|mother|dad|mom|"
             r"son|daughter|widow\w*|orphan|student|teacher|thief|spy|agent|killer|stranger|friends?|brothers?|"
             r"sisters?|lovers?|loner|outsider|misfit|survivors?|crew|team|gang|pair|duo|trio)")
STORY = re.compile(
    r"\b(?:about (?:a|an|the|two|three|four|young|his|her|their|how|what|when)\b|follows\b|tells the story|"
    r"(?:story|tale) of|the story\b|whose (?:life|quest|journey)|must (?:find|save|stop|escape)|"
    r"\b(?:plots?|plotlines?|storylines?|narratives?|plot twists?)\b|"  # "a touching plot": a plot it does not know
    r"(?:plays|playing|voices|stars as|cast as)\s+(?:a|an|the|his|her)\s+(?!(?:\w+\s+)?(?:role|part)\b)|"
    rf"(?<!for )(?:a|an|the|two|three|his|her)\s+(?:(?!(?:for|with|to|from|and|or)\s)[\w-]+\s+){{0,3}}{CHARACTER}(?:\s+of\s+[\w-]+)?\s+(?:who|whose|that|in search|trying|"
    r"fighting|searching|finds?|falls?|learns?|discovers?|must|tries|sets? (?:out|off)|embarks?|travels?|goes|"
    r"heads|comes|arrives?|meets?|returns?|struggles?|fights?|battles?|escapes?|flees|wakes|hunts?|"
    r"investigates?|faces|seeks?|saves?|rescues?|loses|decides?|"  # "a mysterious man arrives at a hotel"
    r"(?:is|are|gets?) (?:followed|hunted|chased|trapped|forced|sent|caught|kidnapped|haunted|stranded)))|"
    rf"讲述|讲的是|故事讲|情节|{PLOT_PRAISE_ZH}|剧情(?:[：:]|是|讲)|(?:饰演|扮演)(?:一[个位名只]|的)|饰饰|(?<![合给让和陪])一[个位名只群对](?:(?!适合|让|给|陪|带)[^，。；]){{0,8}}?(?:男孩|女孩|男人|女人|少年|少女|孩子|"
    r"家庭|侦探|警察|士兵|小熊|玩偶|父亲|母亲|兄弟|姐妹|恋人)[^，。；]{0,6}?(?:在|为了|试图|寻找|发现|必须|爱上)",
    re.IGNORECASE,
)  # "饰饰" too: a role it tried to give (kept from "饰演", the 1.5B wrote "Steve Buscemi 饰饰的")
# Where or when a story is set is its story too ("set during World War II" of Gone with the Wind); a place, a time
# or a world, so that a recipe that "sets in the fridge" is none.
SETTING = re.compile(
    r"\b(?:[Ss]et|[Tt]akes place|[Uu]nfold(?:s|ing)) (?:in|during|on|against|amid|among|at|around|before|after)"
    r"(?: the| a| an)? (?:[A-Z]\w+|\d|(?:[\w-]+ ){0,2}(?:wars?|era|age|century|future|past|city|town|village|"
    r"countryside|world|kingdom|empire|island|desert|jungle|school|prison|space|sea|ocean|planet|streets|suburbs|"
    r"backdrop))|"
    r"背景(?:设定)?(?:是|在|为)|以[^，。；]{1,12}为背景|故事发生在|发生在")
# The prompt's own words in a note ("a drama that may call it something its facts do not show": a rewrite's hint;
# "a thrilling film that you may call a Thriver" once "you asked for" was kept from it).
INSTRUCTIONS = re.compile(
    r"\b(?:may (?:not )?call|never call|call(?:ed)? it something|(?:its|the) facts do not|last note|"
    r"(?:was|were|been) (?:rejected|not accepted)|picked because|build the note|its (?:own )?line (?:says|gives)|"
    r"on (?:its|the) sheet|sticks? to its facts|"
    # the prompt calls the reader "the person": a note speaks to them ("a rainy day that suits the person's day")
    r"the person(?:'s|’s)? (?:day|evening|night|afternoon|morning|weekend|weather|mood|wish|request|company|taste)|"
    r"(?:suits?|fits?) the person)\b|推荐语|被拒|上一条", re.IGNORECASE)

ZH_TRANSLIT_NAME = re.compile(r"[\u4e00-\u9fff]{1,5}[\u00b7\u30fb\u2022][\u4e00-\u9fff]{1,5}")
# A name transliterated without its dot ("詹姆斯卡梅隆执导", "汤姆克鲁斯 饰主角"): a run of three or more of the
# characters transliterations are made of. In the 600 Chinese notes of two `tastebud eval notes` runs every such run
# was a name but 奥斯卡 (Oscar) and two of a recipe's ("帕尔马"); beside a role word only, "汤姆克鲁斯 饰主角" of
# American Beauty got through.
TRANSLIT = ("阿艾安奥巴贝本比彼波布查达戴丹德迪蒂杜多恩法菲费弗福盖格古哈汉赫亨华霍基吉加杰简金卡凯坎康柯科克肯库拉莱兰朗"
            "劳勒雷里利莉林琳卢鲁伦罗洛马玛迈麦曼梅蒙米明莫姆穆纳娜南尼妮诺欧帕佩皮普齐乔琼萨塞桑瑟森沙莎施史斯松苏索塔泰汤特"
            "提托瓦万威韦维温沃乌西希谢休雅亚扬伊尤约詹珍朱卓兹泽佐芬奇夫博茨隆翰尔顿琪蕾丽露芙薇黛瑞贾尚坦唐敦赖汀赛昂"
            "丝伍伯保卫娅宾度廉扎文昆朵缪逊冈埃什")
# 得 of 彼得森 (Petersen), not of 获得/赢得; 当 of 麦当娜 (Madden, Madonna), not of 当时/相当
_NAME_CHAR = rf"(?:[{TRANSLIT}]|(?<=[{TRANSLIT}])[得当](?=[{TRANSLIT}]))"
ZH_UNDOTTED_NAME = re.compile(rf"(?<![{TRANSLIT}])(?!奥斯卡){_NAME_CHAR}{{3,12}}")
ZH_BOOK_TITLE = re.compile(r"《([^》]{1,60})》")

# Weather a note may speak of only where its reasons (or its own facts) give it (`WEATHER_KINDS`).
WEATHER: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (ground, re.compile(said, re.IGNORECASE)) for ground, said, _ in WEATHER_KINDS
)


# Where the person's weather may stand in a note: as their time or what is outside ("a rainy evening", "while it
# pours", "the snow outside", "雨夜", "窗外下着雨"). Anywhere else ("an adventure film with rain", "with rain as the
# backdrop", "雨中的爱情") it is said of the film, which its own facts must then give.
PERSON_WEATHER = re.compile(
    r"\b(?:rain\w*|pouring|drizzly|showery|storm\w*|snow\w*|wet|grey|gray|sunny|hot|cold|chilly|wintry)[\s-]+"
    r"(?:(?:winter|summer|autumn|fall|spring|sunday|saturday|friday|seattle|city|late|lazy|long|quiet)\s+)?"
    r"(?:nights?|evenings?|days?|afternoons?|mornings?|weekends?|weather|season|outside|out there|tonight|hours?|"
    r"moods?|indoors|in\b)|"
    r"\b(?:the|a|that|this)\s+(?:rain|snow|storm|downpour|drizzle|showers?|heat|sunshine)\s+(?:is\s+|keeps\s+)?"
    r"(?:outside|out there|tonight|today|fall\w*|pour\w*|beat\w*|tap\w*|patter\w*|lash\w*|against|at|on)\b|"
    r"\b(?:when|while|as|if|since|because)\s+it(?:'s|\u2019s| is| keeps)?\s+(?:rain|pour|snow|storm|drizzl)\w*|"
    r"\b(?:out of|in from|away from|shelter from|escape from|hide from|warm against|beat|escape|outlast|wait out)\s+"
    r"the\s+(?:rain|snow|storm|downpour|cold|heat)\b|"
    r"(?:下雨|下雪|雨|雪|暴雨|大雨|晴)(?:天|夜|季|的(?:[晚夜午早周日]|时候|天气))|(?:窗外|外面|屋外|外头)[^，。；！？]{0,5}(?:雨|雪|晴)|"
    r"(?:雨|雪)(?:下个不停|还在下|一直下|正下)|(?:躲|避)(?:雨|雪)|"
    r"(?:炎热|酷热|闷热|晴朗|阳光明媚|烈日炎炎|寒冷)的?(?:天气|夏天|夏日|午后|下午|上午|晚上|夜晚|日子|周末|一天|天)|"
    r"(?:天气|外面|今天|窗外)[^，。；！？]{0,4}(?:炎热|热|晴朗|阳光明媚|冷)|大热天|(?:这么|很|太|好)热|(?:避|躲)暑",
    re.IGNORECASE,
)


def said_twice(text: str, language: str) -> str | None:
    """A run of four words (Chinese: eight characters) a note says twice ("讲述美国枪击案的真相，导演 Michael Moore，
    讲述美国枪击案的真相"), or None."""
    if language == "zh":
        units, n = re.findall("[\u4e00-\u9fff]", text), 8  # a name said twice is no repeated thought
    else:
        units, n = re.findall(r"[a-z0-9']+", text.lower()), 4
    first: dict[tuple[str, ...], int] = {}
    for i in range(len(units) - n + 1):
        run = tuple(units[i : i + n])
        if i - first.setdefault(run, i) >= n:
            return ("" if language == "zh" else " ").join(run)
    return None


# A person's role as a note may state it; group 1 is one name (the last one before a Chinese role word). A role
# word before a name states that name's role only when the name has no role word of its own after it and no comma
# stands between: "Brian De Palma 执导，Kevin Costner 主演" names no director Kevin Costner (it made three true
# Chinese notes a run into templates).
_NAME = r"((?:[A-Z][\w'\u2019.-]*)(?:[ -](?:[A-Z][\w'\u2019.-]*|de|van|von|da|di|le|la)){0,3})"
DIRECTED = (
    re.compile(rf"(?:directed by|director|helmed by|from) {_NAME}"),
    re.compile(rf"{_NAME} ?(?:(?:在|于) ?\d{{4}} ?年代? ?)?(?:执导|导演的|导演)"),  # "X 在 1985 年执导"
    re.compile(rf"(?:导演|执导)(?:[：:]|是|为)? ?(?>{_NAME})(?! ?(?:主演|领衔|执导|导演))"),
)
STARRING = (
    re.compile(rf"(?:starring|stars|with) {_NAME}"),
    re.compile(rf"{_NAME} ?(?:主演|领衔)"),
    re.compile(rf"(?:主演)(?:[：:]|是|为)? ?(?>{_NAME})(?! ?(?:主演|领衔|执导|导演))"),
)
VOICED = re.compile(r"\bvoic(?:es|ed|ing)\b|\bvoice (?:of|cast)\b|配音", re.IGNORECASE)

# A name written the Chinese way before its role ("张国荣主演", "由成龙主演"): a common surname and one or two more
# characters; the sheet spells every name in Latin letters, so it cannot be checked (First Strike's note gave it
# Leslie Cheung, who is not in it). Words that begin like a surname ("成功执导", "曾经执导", "金像奖导演") are none.
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
             "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤成甄吕洪梅")
ZH_HAN_NAME = re.compile(
    rf"(?:(?<![\u4e00-\u9fff])|(?<=[由和与、及的是]))(?!成功|成为|曾经|金像|金球|金马|金鸡|黄金|高度|任何|于是|程度|万众|"
    rf"方式|史诗|向来|常常|江湖|马上|龙套)[{_SURNAMES}][\u4e00-\u9fff]{{1,2}}(?=主演|执导|导演|领衔|饰演)")
