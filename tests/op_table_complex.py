"""Op-table rows for complex (issue 8); appended to tests/op_table.OPS."""

from __future__ import annotations

from tests.op_table import Op  # noqa: F401

OPS: list = []
