#!/usr/bin/env python3
"""The roster import at Ezhou scale: one workbook of 417 teams and 5,246 people,
previewed and applied by an admin, then imported again.

    .venv/bin/python bench/roster_import.py
    .venv/bin/python bench/roster_import.py --teams 40 --people 500 --keep-db

What it does, on this machine only (PostgreSQL on 127.0.0.1:5432, user postgres, trust):

1. creates a fresh database and ``flask db upgrade``;
2. the unit tree (湖北省 › 鄂州市 › 3 districts › 24 streets) and ``--registered``
   people already in the system (in no team), whom the import must invite;
3. generates the workbook in memory (one sheet: 姓名, 手机号, 性别, 是否退役军人,
   技能特长, 服务队, 所属单位, 备注; ``--teams`` teams spread over the streets, none of
   which exists yet, ``--people`` rows);
4. times the preview (``roster.services.create_import``: read, plan, store) and the
   apply (``apply_import``, what the worker's actor runs), counting statements;
5. imports the same file again: it must create, join and invite nobody;
6. drops the database (``--keep-db`` keeps it).

A benchmark, not a test: it prints the figures and whether preview + apply stayed under
60 s; its exit status is 0 unless it could not run or the second import changed anything.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
DISTRICTS = {
    "鄂城区": [
        "凤凰街道",
        "古楼街道",
        "西山街道",
        "樊口街道",
        "泽林镇",
        "杜山镇",
        "汀祖镇",
        "碧石渡镇",
        "花湖街道",
        "燕矶镇",
    ],
    "华容区": ["华容镇", "葛店镇", "段店镇", "临江乡", "蒲团乡", "庙岭镇", "红莲湖"],
    "梁子湖区": ["太和镇", "东沟镇", "沼山镇", "涂家垴镇", "梁子镇", "长港镇", "梁子岛"],
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏泽晨辰士以建家致树炎德行时泰盛"
SKILLS = ["", "", "驾驶", "急救", "讲解", "水上救援", "电工", "厨艺", "摄影", "驾驶、急救"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teams", type=int, default=417)
    parser.add_argument("--people", type=int, default=5246)
    parser.add_argument("--registered", type=int, default=100, help="of them already registered")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--keep-db", action="store_true")
    return parser.parse_args()


def workbook(teams: list[tuple[str, str]], people: list[tuple[str, str]], rng) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("花名册")
    sheet.append(
        ["姓名", "手机号", "性别", "是否退役军人", "技能特长", "服务队", "所属单位", "备注"]
    )
    for i, (name, phone) in enumerate(people):
        team, street = teams[i * len(teams) // len(people)]
        sheet.append(
            [
                name,
                phone,
                rng.choice("男男男男女"),
                rng.choice(["是", "是", "是", "否"]),
                rng.choice(SKILLS),
                team,
                street,
                "",
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main() -> int:
    args = parse_args()
    rng = random.Random(args.seed)
    name = f"vh_bench_roster_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        return run(args, rng, f"{SERVER}/{name}")
    finally:
        if args.keep_db:
            print(f"kept database {name}")
        else:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def run(args, rng, url: str) -> int:
    os.environ["DATABASE_URL"] = url
    os.environ.pop("REDIS_URL", None)
    from sqlalchemy import event

    from volunteer_hub import create_app
    from volunteer_hub.extensions import db, upgrade_database
    from volunteer_hub.people.models import Person
    from volunteer_hub.roster import services
    from volunteer_hub.units.services import create_unit

    app = create_app({"EMBEDDED_WORKER": False})
    with app.app_context():
        upgrade_database()
        province = create_unit("湖北省", None)
        city = create_unit("鄂州市", province.id)
        streets = []
        for district_name, street_names in DISTRICTS.items():
            district = create_unit(district_name, city.id)
            streets += [create_unit(s, district.id).name for s in street_names]
        teams = [
            (
                f"{streets[t % len(streets)]}第{t // len(streets) + 1}退役军人志愿服务队",
                streets[t % len(streets)],
            )
            for t in range(args.teams)
        ]
        phones = rng.sample(range(10**8), args.people)
        people = [
            (
                rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2)))),
                f"139{p:08d}",
            )
            for p in phones
        ]
        for person_name, phone in rng.sample(people, args.registered):
            db.session.add(Person(name=person_name, phone=f"+86{phone}"))
        db.session.commit()
        content = workbook(teams, people, rng)
        print(
            f"workbook: {len(content) / 1024:.0f} KB, {args.teams} teams, {args.people} rows, {args.registered} registered already"
        )

        statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        figures = {}
        for round_ in ("first", "second"):
            statements.clear()
            started = time.perf_counter()
            record = services.create_import(
                content, "鄂州市花名册.xlsx", services.CLI_VIEWER, None, via="cli"
            )
            services.mark_queued(record.id)
            db.session.commit()
            previewed = time.perf_counter()
            preview_statements = len(statements)
            services.apply_import(record.id)
            applied = time.perf_counter()
            record = db.session.get(services.RosterImport, record.id)
            counts = record.counts()
            figures[round_] = {
                "preview_s": round(previewed - started, 2),
                "apply_s": round(applied - previewed, 2),
                "total_s": round(applied - started, 2),
                "preview_statements": preview_statements,
                "apply_statements": len(statements) - preview_statements,
                "statements_per_row": round(len(statements) / args.people, 3),
                "counts": counts,
            }
            print(
                f"{round_} import: preview {previewed - started:.2f} s "
                f"({preview_statements} statements), apply {applied - previewed:.2f} s "
                f"({len(statements) - preview_statements} statements), "
                f"{len(statements) / args.people:.3f} statements per row; {counts}"
            )
    first, second = figures["first"], figures["second"]
    unchanged = (
        second["counts"]["new"]
        == second["counts"]["invited"]
        == second["counts"]["teams_created"]
        == 0
    )
    print(f"second import changed nothing: {unchanged}")
    print(f"preview + apply under 60 s: {first['total_s'] < 60} ({first['total_s']} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, ensure_ascii=False, indent=2))
    return 0 if unchanged else 1


if __name__ == "__main__":
    sys.exit(main())
