import pymescore


def test_exported_names_are_locked() -> None:
    # ruff (RUF022) keeps __all__ sorted; this locks which names are public
    assert pymescore.__all__ == ["TABLES", "PymescoreError", "__version__", "validate_table"]


def test_errors_have_one_root_and_survive_pickling_across_processes() -> None:
    import pickle  # only to prove errors cross process boundaries (multiprocessing), never for artifacts

    from pymescore.errors import MissingColumnError, PymescoreError

    err = MissingColumnError("f.csv: needs column(s) x", missing=["x"])
    assert isinstance(err, PymescoreError)
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), back.code, back.message, back.fields) == (
        MissingColumnError,
        "COLUMN_MISSING",
        err.message,
        {"missing": ["x"]},
    )
