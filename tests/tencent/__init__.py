"""Tests of the tencent backend, its emulator and its cassettes."""
