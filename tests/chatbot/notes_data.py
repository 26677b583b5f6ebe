"""Items, notes and reasons shared by the notes tests (test_copywriter, test_notes_per_item)."""

from __future__ import annotations

from chatbot.turn.notes.note import NoteRequest
from retrieval.types import Item

TOY_STORY = Item(
    id="ml:1", title="Toy Story (1995)", year=1995, genres=("Adventure", "Animation", "Children", "Comedy"),
    directors=("John Lasseter",), cast=("Tom Hanks", "Tim Allen", "Don Rickles"), runtime_min=81,
    age_rating="G", mean_rating=3.87, n_ratings=247,
    plot="A cowboy doll is profoundly threatened and jealous when a new spaceman figure supplants him as top toy.",
)
ALIEN = Item(
    id="ml:1214", title="Alien (1979)", year=1979, genres=("Horror", "Sci-Fi"), directors=("Ridley Scott",),
    cast=("Sigourney Weaver", "Tom Skerritt", "John Hurt"), runtime_min=117, age_rating="R", mean_rating=4.0,
    n_ratings=120,
)
AMELIE = Item(
    id="ml:4973", title="Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", year=2001,
    genres=("Comedy", "Romance"), directors=("Jean-Pierre Jeunet",), cast=("Audrey Tautou", "Mathieu Kassovitz"),
    runtime_min=122, age_rating="R",
)
MATRIX = Item(
    id="ml:2571", title="Matrix, The (1999)", year=1999, genres=("Action", "Sci-Fi", "Thriller"),
    directors=("Lana Wachowski", "Lilly Wachowski"), cast=("Keanu Reeves", "Laurence Fishburne", "Carrie-Anne Moss"),
    runtime_min=136, age_rating="R",
)
SPEED = Item(id="ml:377", title="Speed (1994)", year=1994, genres=("Action", "Thriller"),
             directors=("Jan de Bont",), cast=("Keanu Reeves", "Sandra Bullock", "Dennis Hopper"), runtime_min=116)
HOME_ALONE = Item(id="ml:586", title="Home Alone (1990)", year=1990, genres=("Children", "Comedy"),
                  cast=("Macaulay Culkin", "Joe Pesci"), runtime_min=103)
JAWS = Item(id="ml:1387", title="Jaws (1975)", year=1975, genres=("Action", "Horror"),
            directors=("Steven Spielberg",), cast=("Roy Scheider", "Robert Shaw"), runtime_min=124)
CATALOG = [TOY_STORY, ALIEN, AMELIE, MATRIX, SPEED, HOME_ALONE, JAWS]

GOOD_EN = [
    "A warm, funny adventure for a rainy evening: Tom Hanks voices a cowboy doll who fears being replaced.",
    "A tense sci-fi horror classic from 1979 with Sigourney Weaver, perfect for a late night in.",
]
GOOD_ZH = [
    "一部温馨有趣的动画冒险片，Tom Hanks 配音，很适合下雨的晚上和孩子一起看。",
    "1979年的经典科幻恐怖片，Sigourney Weaver 主演，适合喜欢紧张气氛的你。",
]


def answer(notes: list[str], titles: tuple[str, ...] = ("Toy Story", "Alien")) -> dict[str, str]:
    """The JSON the model answers: one note under each film's number (titles: only how many films there are)."""
    return {str(k): note for k, (_, note) in enumerate(zip(titles, notes), start=1)}


def requests() -> list[NoteRequest]:
    """Two items with the reasons the agent would pass."""
    return [
        NoteRequest(TOY_STORY, ("rainy evening -> cozy", "family-friendly", "you asked for: animation")),
        NoteRequest(ALIEN, ("you asked for: space horror",)),
    ]
