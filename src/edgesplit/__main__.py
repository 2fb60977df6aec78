from edgesplit.cli import app

app()
