from scrapers.charset import decode_html, header_charset, meta_charset, normalize_charset


def test_header_charset_wins_over_meta():
    html = '<meta charset="utf-8"><p>caf\u00e9</p>'.encode("cp1252")
    assert "caf\u00e9" in decode_html(html, "text/html; charset=windows-1252")


def test_meta_charset_and_http_equiv():
    body = "<p>\u00fcber</p>"
    html = b'<meta charset="iso-8859-1">' + body.encode("cp1252")
    assert "\u00fcber" in decode_html(html, None)
    html = (b'<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
            + "\u65e5\u672c".encode("shift_jis"))
    assert "\u65e5\u672c" in decode_html(html, "text/html")


def test_bom_is_trusted():
    assert decode_html(b"\xef\xbb\xbfhi \xc3\xa9", "text/html; charset=latin1") == "hi \u00e9"
    assert decode_html("\ufeffhey".encode("utf-16-le"), None) == "hey"


def test_unknown_charset_does_not_raise():
    html = "<p>na\u00efve</p>".encode("utf-8")
    assert "na\u00efve" in decode_html(html, "text/html; charset=x-no-such-thing")
    assert "na\u00efve" in decode_html(b'<meta charset="bogus-42">' + html, None)
    assert normalize_charset("bogus") is None
    assert header_charset(None) is None
    assert meta_charset(b"<p>none</p>") is None


def test_fallbacks():
    assert decode_html(b"", None) == ""
    # valid UTF-8 with one stray byte stays UTF-8
    text = decode_html("\u00e9t\u00e9 ".encode("utf-8") * 20 + b"\xff", None)
    assert text.startswith("\u00e9t\u00e9") and text.endswith("\ufffd")
    # not UTF-8 at all: cp1252
    assert decode_html("caf\u00e9 cr\u00e8me".encode("cp1252"), None) == "caf\u00e9 cr\u00e8me"


def test_labels_map_like_browsers():
    assert normalize_charset("ISO-8859-1") == "cp1252"
    assert normalize_charset("utf-16") == "utf-8"  # declared in an ASCII page: it is not
    assert normalize_charset("gb2312") == "gb18030"
