"""Build the fast engine's native tier (``arspec.reference.vm.native_c``); the rest of the
project's metadata is in ``pyproject.toml``.

The extension is optional: without a C compiler or Python's headers the install goes on and
the fast engine runs its Python tier (``.ci/install-deps`` installs both; under ``CI=true``
``tests/test_native.py`` fails when the extension is missing)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "arspec.reference.vm.native_c",
            sources=["reference/vm/native_c.c"],
            optional=True,
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter",
                                "-fno-strict-aliasing"],
        ),
    ],
)
