"""The Import page cannot take down the process every rater uses: a gzip bomb is refused with a
message before it is expanded, and uploads have a size limit."""

from __future__ import annotations

import gzip

from data.formats import MAX_BYTES
from tests.ui.conftest import TOY, AppWorkspace, app, click, signed_in_admin
from ui.pages.import_data import UPLOAD_LIMIT_MB


def test_a_gzip_bomb_upload_is_refused_and_writes_nothing(app_workspace: AppWorkspace) -> None:
    row = b'{"prompt": "q", "chosen": "a", "rejected": "b"}\n'
    bomb = gzip.compress(row * (MAX_BYTES // len(row) + 1024), compresslevel=9)
    assert len(bomb) < MAX_BYTES // 100  # small to send, past the limit once expanded
    at = signed_in_admin(app()).switch_page("ui/pages/import_data.py").run()
    at.file_uploader(key="import_upload").upload("bomb.jsonl.gz", bomb)
    at = click(at, "Import")
    assert not at.exception
    assert at.error[0].value == (
        f"Nothing was imported. bomb.jsonl.gz: when decompressed, expands past the import"
        f" limit of {MAX_BYTES:,} bytes (raise it with --max-bytes)"
    )
    with app_workspace.released() as store:
        assert store.counts(TOY.project_id)["pairs"] == 3


def test_the_uploader_has_a_size_limit(app_workspace: AppWorkspace) -> None:
    at = signed_in_admin(app()).switch_page("ui/pages/import_data.py").run()
    uploader = at.file_uploader(key="import_upload")
    assert uploader.proto.max_upload_size_mb == UPLOAD_LIMIT_MB
