"""A sample Ma'anshan directory and one demo officer per role and unit.

Everything here is SAMPLE data (`Unit.is_sample = True`): the districts and streets are real
names, the communities and the department list are illustrative, not the official roster.
`load_demo` is idempotent: it only adds what is missing and never changes existing rows.

Demo accounts (password `DEMO_PASSWORD` for all):
    sq-<community id>   社区党组织        e.g. sq-hs-jfl-sq1
    wg-<community id>   网格员            e.g. wg-hs-jfl-sq1
    jd-<street id>      街道党工委        e.g. jd-hs-jfl
    zzb-<district id>   区委组织部        e.g. zzb-hs
    zzb-mas             市委组织部
    bm-<department id>  部门党组织        e.g. bm-city-zjj, bm-hs-cgj
    policy              政策/流程管理员
    admin               系统管理员
"""
from __future__ import annotations

from sqlalchemy import select

from .models import Officer, Unit
from .officers import hash_password

DEMO_PASSWORD = "demo1234"
CITY = ("mas", "马鞍山市")

# district id -> (name, [(street id, name, [community name, ...]), ...])
AREAS: dict[str, tuple[str, list[tuple[str, str, list[str]]]]] = {
    "hs": ("花山区", [
        ("hs-jfl", "解放路街道", ["湖北路社区", "花园社区", "九华社区"]),
        ("hs-hdl", "湖东路街道", ["湖东社区", "新风社区"]),
        ("hs-js", "佳山乡", ["佳山社区", "林里社区"]),
    ]),
    "ys": ("雨山区", [
        ("ys-am", "安民街道", ["安民社区", "桃园社区"]),
        ("ys-ys", "雨山街道", ["雨山社区", "湖滨社区", "红旗社区"]),
    ]),
    "bw": ("博望区", [
        ("bw-bw", "博望镇", ["博望社区", "新博社区"]),
        ("bw-dy", "丹阳镇", ["丹阳社区", "新河社区"]),
    ]),
}

# (id, kind, name, parent, categories)
DEPARTMENTS: list[tuple[str, str, str, str, list[str]]] = [
    ("city-zjj", "department", "市住房和城乡建设局", "mas", ["规划建设", "道路设施", "市容环境", "安全"]),
    ("city-cgj", "department", "市城市管理局", "mas", ["市容环境", "明灯", "道路设施"]),
    ("city-jtj", "department", "市交通运输局", "mas", ["交通出行", "道路设施"]),
    ("city-jjzd", "department", "市公安局交警支队", "mas", ["交通出行", "安全"]),
    ("city-gaj", "department", "市公安局", "mas", ["治安", "安全"]),
    ("city-mzj", "department", "市民政局", "mas", ["社会保障", "助残", "需求"]),
    ("city-cl", "department", "市残疾人联合会", "mas", ["助残"]),
    ("city-wlj", "department", "市文化和旅游局", "mas", ["文化"]),
    ("city-wjw", "department", "市卫生健康委员会", "mas", ["卫生健康", "需求"]),
    ("city-jyj", "department", "市教育局", "mas", ["教育"]),
    ("city-scjgj", "department", "市市场监督管理局", "mas", ["市场秩序", "安全"]),
    ("city-sthjj", "department", "市生态环境局", "mas", ["生态环境", "市容环境"]),
    ("city-zrzyj", "department", "市自然资源和规划局", "mas", ["规划建设"]),
    ("city-yjglj", "department", "市应急管理局", "mas", ["安全"]),
    ("city-rsj", "department", "市人力资源和社会保障局", "mas", ["社会保障", "需求"]),
    ("city-gdgs", "enterprise", "国网马鞍山供电公司", "mas", ["水电气", "明灯"]),
    ("city-swjt", "enterprise", "马鞍山市水务集团", "mas", ["水电气"]),
    ("city-gjjt", "enterprise", "马鞍山公交集团", "mas", ["交通出行"]),
    ("city-rqgs", "enterprise", "马鞍山燃气公司", "mas", ["水电气", "安全"]),
    ("city-dx", "enterprise", "中国电信马鞍山分公司", "mas", ["通信"]),
    ("city-yd", "enterprise", "中国移动马鞍山分公司", "mas", ["通信"]),
    ("hs-zjj", "department", "花山区住房和城乡建设局", "hs", ["规划建设", "道路设施", "安全"]),
    ("hs-cgj", "department", "花山区城市管理局", "hs", ["市容环境", "明灯", "道路设施"]),
    ("hs-mzj", "department", "花山区民政局", "hs", ["社会保障", "助残", "需求"]),
    ("hs-jtj", "department", "花山区教育体育局", "hs", ["教育", "文化"]),
    ("ys-zjj", "department", "雨山区住房和城乡建设局", "ys", ["规划建设", "道路设施", "安全"]),
    ("ys-cgj", "department", "雨山区城市管理局", "ys", ["市容环境", "明灯", "道路设施"]),
    ("ys-mzj", "department", "雨山区民政局", "ys", ["社会保障", "助残", "需求"]),
    ("bw-zjj", "department", "博望区住房和城乡建设局", "bw", ["规划建设", "道路设施", "安全", "交通出行"]),
    ("bw-cgj", "department", "博望区城市管理局", "bw", ["市容环境", "明灯"]),
    ("bw-nyj", "department", "博望区农业农村局", "bw", ["生态环境", "需求"]),
]


def demo_units() -> list[dict]:
    """The sample directory, parents before children."""
    out = [dict(id=CITY[0], kind="city", name=CITY[1], parent_id=None)]
    for district_id, (district_name, streets) in AREAS.items():
        out.append(dict(id=district_id, kind="district", name=district_name, parent_id=CITY[0]))
        for street_id, street_name, communities in streets:
            out.append(dict(id=street_id, kind="street", name=street_name, parent_id=district_id))
            for i, community_name in enumerate(communities, 1):
                out.append(dict(id=f"{street_id}-sq{i}", kind="community", name=community_name,
                                parent_id=street_id))
    out.extend(dict(id=i, kind=k, name=n, parent_id=p, categories=c) for i, k, n, p, c in DEPARTMENTS)
    return out


def demo_officers(units: list[dict]) -> list[dict]:
    """One account per role and unit (see the module docstring for the username scheme)."""
    out = []
    for u in units:
        if u["kind"] == "community":
            out.append(dict(username=f"sq-{u['id']}", role="community", unit_id=u["id"],
                            display_name=f"{u['name']}党组织"))
            out.append(dict(username=f"wg-{u['id']}", role="grid_worker", unit_id=u["id"],
                            display_name=f"{u['name']}网格员"))
        elif u["kind"] == "street":
            suffix = "党委" if u["name"].endswith(("镇", "乡")) else "党工委"
            out.append(dict(username=f"jd-{u['id']}", role="street", unit_id=u["id"],
                            display_name=f"{u['name']}{suffix}"))
        elif u["kind"] == "district":
            out.append(dict(username=f"zzb-{u['id']}", role="district_org", unit_id=u["id"],
                            display_name=f"{u['name']}委组织部"))
        elif u["kind"] == "city":
            out.append(dict(username=f"zzb-{u['id']}", role="city_org", unit_id=u["id"],
                            display_name="市委组织部"))
        else:
            out.append(dict(username=f"bm-{u['id']}", role="department", unit_id=u["id"],
                            display_name=f"{u['name']}党组织"))
    out.append(dict(username="policy", role="policy_staff", unit_id="mas", display_name="流程管理员（示例）"))
    out.append(dict(username="admin", role="admin", unit_id=None, display_name="系统管理员（示例）"))
    return out


def load_demo(session) -> dict:
    """Add the sample directory and demo officers where missing; returns what was added.

    Idempotent. The caller commits.
    """
    units = demo_units()
    have_units = set(session.scalars(select(Unit.id)))
    added_units = []
    for u in units:
        if u["id"] not in have_units:
            session.add(Unit(categories=u.get("categories", []), active=True, is_sample=True,
                             **{k: v for k, v in u.items() if k != "categories"}))
            added_units.append(u["id"])
            session.flush()
    have_users = set(session.scalars(select(Officer.username)))
    added_users, shared_hash = [], None
    for o in demo_officers(units):
        if o["username"] in have_users:
            continue
        shared_hash = shared_hash or hash_password(DEMO_PASSWORD)
        session.add(Officer(password_hash=shared_hash, active=True, is_sample=True, **o))
        added_users.append(o["username"])
    session.flush()
    return {"units": added_units, "officers": added_users, "password": DEMO_PASSWORD}


def is_demo_database(session) -> bool:
    """Made with `whistle init --demo`: it holds the sample directory or demo officers."""
    return (session.scalar(select(Unit.id).where(Unit.is_sample.is_(True)).limit(1)) is not None
            or session.scalar(select(Officer.id).where(Officer.is_sample.is_(True)).limit(1)) is not None)
