"""The search-space presets, installed as ``evoens.pipelines`` (see ``pyproject.toml``)."""
