"""The investor web app: REST API (FastAPI) and page (Gradio) on one server, both over `hpcast.invest`."""
