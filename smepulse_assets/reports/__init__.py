"""What a finance team opens: the Excel pack and the HTML cash report of a day, and the figures
and charts the dashboard shares with them."""
