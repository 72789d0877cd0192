"""The local web dashboard (`smepulse dashboard`): Streamlit pages over the serving copy, drawing
the report's charts and figures."""
