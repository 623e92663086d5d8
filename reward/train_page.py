"""Placeholder while the page is written."""

from __future__ import annotations

import streamlit as st

from labeling import signin_page as session


def main() -> None:
    session.require_admin()
    st.title("Reward models")


if __name__ == "__main__":
    main()
