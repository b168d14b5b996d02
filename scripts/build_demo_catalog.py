"""Build the demo catalog shipped in the package (run by hand; the output is committed).

    python scripts/build_demo_catalog.py ../shared/data/movietweetings-movies/movies.dat

Movies: titles, years and genres of 300 films from MovieTweetings' movies.dat (MIT licence,
notice kept beside the output); their durations, offers and prices are generated. Programmes,
episodes and channels are generated. Schedules are added at load time for the current day
(`tanktop catalog demo`), so they are never stale.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src/tanktop/catalog/demo/catalog.jsonl"
SOURCES = [("1", 0), ("2", 0), ("3", 349), ("4", 499)]  # two subscriptions, two stores
LINE = re.compile(r"^(\d+)::(.+) \((\d{4})\)::(.*)$")

PROGRAMMES = [
    ("1001", "The Harbour", ["Drama"], None, [], 3, 8, 55),
    ("1002", "Kitchen Rivals", ["Reality", "Food"], None, [], 2, 10, 45),
    ("1003", "Deep Orbit", ["Sci-Fi", "Drama"], None, [], 2, 6, 50),
    ("1004", "Quiz Night", ["Game-Show"], None, [], 1, 12, 30),
    (
        "1005",
        "Premier Football Live",
        ["Sport"],
        "football",
        ["Arsenal", "Chelsea", "Liverpool", "Everton"],
        1,
        6,
        110,
    ),
    ("1006", "Tennis Finals", ["Sport"], "tennis", [], 1, 4, 150),
]
CHANNELS = [("bbc1", "Demo One"), ("itv", "Demo Two"), ("sky-sports", "Demo Sport")]


def movies(path: Path, rng: random.Random) -> list[dict[str, object]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = LINE.match(line)
        if match and match.group(4) and 1980 <= int(match.group(3)) <= 2013:
            rows.append(match.groups())
    chosen = sorted(rng.sample(rows, 300), key=lambda r: int(r[0]))
    result: list[dict[str, object]] = []
    for imdb, title, year, genres in chosen:
        offers = [
            {"source_id": int(source), "price": price, "hd": rng.random() < 0.6}
            for source, price in rng.sample(SOURCES, rng.randint(0, 2))
        ]
        result.append(
            {
                "item_type": "movie",
                "item_id": int(imdb),
                "title": title,
                "year": int(year),
                "genres": genres.split("|"),
                "duration": rng.randint(80, 160),
                "offers": offers,
            }
        )
    return result


def programmes(rng: random.Random) -> list[dict[str, object]]:
    result: list[dict[str, object]] = []
    for pid, title, genres, sport, teams, seasons, episodes, minutes in PROGRAMMES:
        line: dict[str, object] = {
            "item_type": "programme",
            "item_id": int(pid),
            "title": title,
            "genres": genres,
        }
        if sport:
            line |= {"sport": sport, "teams": teams}
        result.append(line)
        for season in range(1, seasons + 1):
            for number in range(1, episodes + 1):
                episode: dict[str, object] = {
                    "item_type": "episode",
                    "item_id": f"{pid}-s{season}e{number}",
                    "programme_id": int(pid),
                    "season": season,
                    "number": number,
                    "duration": minutes,
                    "title": f"{title} {season}.{number}",
                }
                if sport and teams:
                    episode |= {"sport": sport, "teams": rng.sample(teams, 2)}
                if season < seasons or number <= episodes // 2:
                    episode["offers"] = [{"source_id": 1, "price": 0, "hd": True}]
                result.append(episode)
    return result


def main() -> None:
    rng = random.Random(20261127)
    lines = [*movies(Path(sys.argv[1]), rng), *programmes(rng)]
    lines += [{"item_type": "channel", "item_id": cid, "name": name} for cid, name in CHANNELS]
    OUT.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    print(f"wrote {len(lines)} lines to {OUT}")


if __name__ == "__main__":
    main()
