"""The streaming CSV reader: encodings, line endings, quoting and hostile sizes, without a database."""

import io

import pytest

from members.imports.reader import CsvReader, ImportFileError


def rows_of(data: bytes, **options) -> tuple[list, list]:
    reader = CsvReader(io.BytesIO(data), **options)
    header = reader.header()
    return header, list(reader)


def test_utf8_with_a_byte_order_mark_reads_the_first_header_without_it():
    header, rows = rows_of("\ufeff手机号,姓名\r\n13800138000,王芳\r\n".encode())
    assert header.cells == ["手机号", "姓名"]
    assert rows == [(2, ["13800138000", "王芳"], None)]


def test_gbk_without_a_byte_order_mark_is_recognised():
    reader = CsvReader(io.BytesIO("手机号,姓名\r\n13800138000,王芳\r\n".encode("gbk")))
    assert reader.header().cells == ["手机号", "姓名"]
    assert [row.cells for row in reader] == [["13800138000", "王芳"]]
    assert reader.encoding == "gb18030"


def test_gbk_after_a_megabyte_of_ascii_is_still_read_as_gbk():
    ascii_rows = b"".join(b"1380013%04d,Wang\r\n" % i for i in range(60_000))
    data = b"phone,name\r\n" + ascii_rows + "13900139000,王芳\r\n".encode("gbk")
    reader = CsvReader(io.BytesIO(data), chunk_bytes=1 << 16)
    reader.header()
    last = list(reader)[-1]
    assert last.cells == ["13900139000", "王芳"]
    assert last.line == 60_002


def test_a_multibyte_character_split_between_chunks_is_decoded_whole():
    data = "phone,name\n13800138000,王芳\n".encode()
    for chunk in (1, 2, 3, 5, 7):
        _header, rows = rows_of(data, chunk_bytes=chunk)
        assert rows[0].cells == ["13800138000", "王芳"], chunk


def test_mixed_line_endings_and_quoted_line_breaks_keep_the_files_line_numbers():
    data = b'phone,name\r\n1,"first\r\nsecond"\n2,b\r3,c\r\n\r\n4,d'
    for chunk in (1, 4, 1 << 20):
        _header, rows = rows_of(data, chunk_bytes=chunk)
        assert [(row.line, row.cells) for row in rows] == [
            (2, ["1", "first\r\nsecond"]),
            (4, ["2", "b"]),
            (5, ["3", "c"]),
            (7, ["4", "d"]),
        ], chunk


def test_a_ten_megabyte_cell_makes_its_row_bad_and_reading_goes_on():
    huge = b"x" * (10 * 1024 * 1024)
    data = b"phone,name\n13800138000," + huge + b"\n13900139000,ok\n"
    _header, rows = rows_of(data)
    assert rows[0].line == 2 and "longer than" in rows[0].problem
    assert rows[1] == (3, ["13900139000", "ok"], None)


def test_a_ten_megabyte_quoted_cell_over_many_lines_is_skipped_to_its_end():
    huge = b'"' + b"line\n" * (2 * 1024 * 1024) + b'"'
    data = b"phone,name\n13800138000," + huge + b"\n13900139000,ok\n"
    _header, rows = rows_of(data)
    assert len(rows) == 2
    assert rows[0].line == 2 and rows[0].problem
    assert rows[1].cells == ["13900139000", "ok"] and rows[1].line == 2 + 2 * 1024 * 1024 + 1


def test_a_cell_over_the_cell_limit_names_its_column():
    _header, rows = rows_of(b"phone,name\n1," + b"y" * 5000 + b"\n")
    assert rows[0].problem == "Cell 2 is 5,000 characters long; at most 4,000 are allowed."


def test_a_row_with_more_cells_than_the_header_is_bad_but_trailing_empty_cells_are_not():
    reader = CsvReader(io.BytesIO(b"phone,name\n1,a,extra\n2,b,,,\n"))
    reader.max_columns = len(reader.header().cells)
    rows = list(reader)
    assert rows[0].problem == "This row has 3 cells but the header has 2 columns."
    assert rows[1] == (3, ["2", "b"], None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"\xef\xbb\xbf\r\n\r\n", "The file is empty."),
        (b"PK\x03\x04\x14\x00\x06\x00", "it looks like XLSX"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "it looks like PNG"),
        (b"\xff\xfep\x00h\x00", "UTF-16"),
        (b"phone\x00,name\n", "binary data"),
        (b"phone,name\n" + b"\xff\x80" * 3000, "neither UTF-8 nor GBK"),
    ],
)
def test_files_that_are_not_csv_text_are_refused_with_a_reason(data, message):
    with pytest.raises(ImportFileError) as error:
        rows_of(data)
    assert message in error.value.message


def test_a_stray_undecodable_byte_makes_only_its_row_bad():
    data = "phone,name\n13800138000,王芳\n".encode() + b"13900139000,\xff\xfe\n" + b"13700137000,ok\n"
    _header, rows = rows_of(data)
    assert rows[0].problem is None
    assert rows[1].problem == "This row holds bytes that are not valid UTF-8 text."
    assert rows[2].problem is None


def test_a_semicolon_separated_file_from_a_european_excel_is_read():
    _header, rows = rows_of(b"phone;name\n13800138000;Wang\n")
    assert rows[0].cells == ["13800138000", "Wang"]
