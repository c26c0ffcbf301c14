"""Build the fast engine's native tier (``arspec.reference.vm.native_c``); the rest of the
project's metadata is in ``pyproject.toml``."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "arspec.reference.vm.native_c",
            sources=["reference/vm/native_c.c"],
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter",
                                "-fno-strict-aliasing"],
        ),
    ],
)
