"""Regenerate the real-world-style recipient files in this directory (their bytes are committed).

Each imitates what a spreadsheet writes: Chinese Excel's default "CSV (comma delimited)" is
GBK; a European-locale "CSV UTF-8" export has a BOM, semicolons and CRLF; "Unicode Text" is
UTF-16-LE with a BOM, tabs and CRLF. ``undecodable.csv`` is UTF-8 except for one Latin-1 byte
in its last (1,500th) row, valid in neither UTF-8 nor GB18030.

Run: ``python tests/data/make_fixtures.py``.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

CHINESE = [
    ("zhang.wei@example.com", "张伟", "北京"),
    ("li.na@example.com", "李娜", "上海"),
    ("wang.fang@example.com", "王芳", "广州"),
    ("liu.yang@example.com", "刘洋", "深圳"),
    ("chen.jing@example.com", "陈静", "杭州"),
]
EUROPEAN = [
    ("francois@example.com", "François Lefèvre", "Paris; 8e"),
    ("zoe@example.com", "Zoë Müller", "Zürich"),
    ("jurgen@example.com", "Jürgen Weiß", "Köln"),
    ("malgorzata@example.com", "Małgorzata Wójcik", "Łódź"),
]


def main() -> None:
    gbk = "email,name,city\r\n" + "".join(f"{e},{n},{c}\r\n" for e, n, c in CHINESE)
    (HERE / "recipients_gbk.csv").write_bytes(gbk.encode("gbk"))

    rows = "".join(f'{e};{n};"{c}"\r\n' if ";" in c else f"{e};{n};{c}\r\n" for e, n, c in EUROPEAN)
    (HERE / "recipients_utf8_bom_semicolon.csv").write_bytes(("email;name;city\r\n" + rows).encode("utf-8-sig"))

    mixed = [*CHINESE, *EUROPEAN]
    tab = "email\tname\tcity\r\n" + "".join(f"{e}\t{n}\t{c}\r\n" for e, n, c in mixed)
    (HERE / "recipients_utf16.txt").write_bytes(tab.encode("utf-16"))  # BOM + native (LE) order

    lines = [b"email,name"] + [f"user{i:04d}@example.com,User {i}".encode() for i in range(1, 1500)]
    lines.append("user1500@example.com,Zoë".encode("latin-1") + b",x")
    (HERE / "undecodable.csv").write_bytes(b"\n".join(lines) + b"\n")


if __name__ == "__main__":
    main()
