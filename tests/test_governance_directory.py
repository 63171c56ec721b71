"""The directory: demo data, look-ups, CSV import; officers and roles."""
import io

import pytest
from sqlalchemy import func, select

from engine.registry import known_roles
from governance import directory
from governance.demo import DEMO_PASSWORD, load_demo
from governance.directory import DirectoryImportError, import_directory_csv
from governance.models import Officer, Unit
from governance.officers import OfficerError, authenticate, create_officer, list_users
from governance.roles import ROLES


def _counts(session):
    return (session.scalar(select(func.count(Unit.id))), session.scalar(select(func.count(Officer.id))))


def test_demo_directory_is_sample_and_idempotent(session):
    first = load_demo(session)
    session.commit()
    assert first["password"] == DEMO_PASSWORD
    before = _counts(session)
    second = load_demo(session)
    session.commit()
    assert second["units"] == [] and second["officers"] == []
    assert _counts(session) == before
    assert all(u.is_sample for u in session.scalars(select(Unit)))
    names = {u.name for u in directory.units(session, "district")}
    assert names == {"花山区", "雨山区", "博望区"}
    assert len(directory.departments(session)) >= 20
    for street in directory.units(session, "street"):
        assert 2 <= len(directory.children(session, street.id, "community")) <= 3


def test_demo_has_one_officer_per_role_and_unit(session):
    load_demo(session)
    roles = {u["role"] for u in list_users(session)}
    assert roles == set(ROLES) - {"resident"}
    for community in directory.units(session, "community"):
        assert {o["role"] for o in list_users(session, unit_id=community.id)} == {"community", "grid_worker"}
    for dept in directory.departments(session):
        assert [o["role"] for o in list_users(session, unit_id=dept.id)] == ["department"]
    assert authenticate(session, "sq-hs-jfl-sq1", DEMO_PASSWORD).unit_id == "hs-jfl-sq1"
    assert authenticate(session, "zzb-hs", DEMO_PASSWORD).role == "district_org"
    assert authenticate(session, "zzb-mas", DEMO_PASSWORD).role == "city_org"
    assert authenticate(session, "admin", "wrong-password") is None
    assert authenticate(session, "nobody", DEMO_PASSWORD) is None


def test_roles_are_registered_with_the_engine():
    roles = known_roles()
    assert roles["community"] == "community_id" and roles["street"] == "street_id"
    assert roles["district_org"] == "district_id" and roles["city_org"] == "city_id"
    assert roles["department"] == "department_id" and roles["grid_worker"] == "community_id"
    assert roles["resident"] is None and roles["admin"] is None and roles["policy_staff"] is None


def test_lookups(session):
    load_demo(session)
    place = directory.locate_community(session, "ys-am-sq2")
    assert place == {"community_id": "ys-am-sq2", "street_id": "ys-am", "district_id": "ys", "city_id": "mas"}
    assert directory.street_of(session, "bw-dy-sq1").name == "丹阳镇"
    assert directory.district_of(session, "bw-dy-sq1").id == "bw"
    lights = {u.id for u in directory.departments_for_category(session, "明灯")}
    assert {"city-cgj", "city-gdgs", "hs-cgj"} <= lights
    assert {u.id for u in directory.departments_for_category(session, "明灯", parent_id="hs")} == {"hs-cgj"}
    assert directory.department_level(session, "hs-cgj") == "district"
    assert directory.department_level(session, "city-zjj") == "city"
    with pytest.raises(directory.DirectoryError):
        directory.locate_community(session, "hs-jfl")       # a street, not a community


def test_officer_unit_must_fit_role(session):
    load_demo(session)
    with pytest.raises(OfficerError):
        create_officer(session, username="x1", password="secret123", display_name="X", role="street",
                       unit_id="hs-jfl-sq1")
    with pytest.raises(OfficerError):
        create_officer(session, username="sq-hs-jfl-sq1", password="secret123", display_name="X",
                       role="community", unit_id="hs-jfl-sq1")
    with pytest.raises(OfficerError):
        create_officer(session, username="x2", password="short", display_name="X", role="admin")
    o = create_officer(session, username="wang.li", password="secret123", display_name="王丽",
                       role="department", unit_id="city-wlj", phone="0555-1234567")
    assert authenticate(session, "wang.li", "secret123") is o
    o.active = False
    assert authenticate(session, "wang.li", "secret123") is None
    row = next(u for u in list_users(session) if u["username"] == "wang.li")
    assert row["unit_name"] == "市文化和旅游局" and row["role_name"] == ROLES["department"]


CSV_OK = """id,kind,name,parent_id,categories
mas,city,马鞍山市,,
hs,district,花山区,mas,
hs-tx,street,塘西街道,hs,
hs-tx-sq1,community,塘西社区,hs-tx,
city-zjj,department,市住房和城乡建设局,mas,规划建设|道路设施
"""


def test_import_directory_csv_creates_and_updates(session):
    result = import_directory_csv(session, io.StringIO(CSV_OK))
    session.commit()
    assert set(result.created) == {"mas", "hs", "hs-tx", "hs-tx-sq1", "city-zjj"}
    assert session.get(Unit, "city-zjj").categories == ["规划建设", "道路设施"]
    assert session.get(Unit, "mas").is_sample is False
    # children may come before parents; existing ids are updated; bytes with a BOM are fine
    again = ("\ufeffid,kind,name,parent_id,categories\n"
             "hs-tx-sq2,community,新社区,hs-tx,\n"
             "city-zjj,department,市住建局,mas,规划建设\n").encode("utf-8")
    result = import_directory_csv(session, io.BytesIO(again))
    session.commit()
    assert result.created == ["hs-tx-sq2"] and result.updated == ["city-zjj"]
    assert session.get(Unit, "city-zjj").name == "市住建局"
    assert session.get(Unit, "city-zjj").categories == ["规划建设"]


def test_import_directory_csv_is_all_or_nothing_with_row_numbers(session, tmp_path):
    import_directory_csv(session, io.StringIO(CSV_OK))
    session.commit()
    bad = tmp_path / "bad.csv"
    bad.write_text("id,kind,name,parent_id,categories\n"
                   "ys,district,雨山区,mas,\n"              # 2: fine
                   "ys-am,street,安民街道,nowhere,\n"       # 3: unknown parent
                   "Bad Id,community,X,ys-am,\n"           # 4: invalid id
                   "ys-am-sq1,community,,hs,\n"            # 5: no name, parent not a street
                   "hs,street,花山区,mas,\n"               # 6: kind change + street under city
                   "ys,district,雨山区,mas,\n",            # 7: duplicate
                   encoding="utf-8")
    with pytest.raises(DirectoryImportError) as info:
        import_directory_csv(session, bad)
    rows = {e.row for e in info.value.errors}
    assert rows == {3, 4, 5, 6, 7}
    assert "第 3 行" in str(info.value)
    assert session.get(Unit, "ys") is None               # nothing of the file was stored


def test_import_directory_csv_missing_columns(session):
    with pytest.raises(DirectoryImportError) as info:
        import_directory_csv(session, io.StringIO("id,name\nx,y\n"))
    assert info.value.errors[0].row == 1
