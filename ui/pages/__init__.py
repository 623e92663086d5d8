"""One file per page; ``app.py`` routes to them by role. Streamlit runs a page file as
``__main__``, so each puts its drawing in ``main()``; pages never import each other."""
