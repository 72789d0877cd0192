"""The dashboard's entry script, run by ``streamlit run`` (see ``smepulse dashboard``).

It opens the serving copy read-only for each page view, so it never holds a lock a run could
wait on, and it shows a new day as soon as a run has published it.
"""

from collections.abc import Callable
from datetime import date

import duckdb
import streamlit as st

from smepulse_assets.dashboard import pages
from smepulse_assets.reports.figures import Figures, published_days, serving_reader
from smepulse_lib.settings import Settings


def main() -> None:
    st.set_page_config(page_title="SME Pulse", layout="wide")
    settings = Settings.from_env()
    days = _published_days(settings)
    if not days:
        return
    day = st.sidebar.date_input("As of", value=days[0], min_value=days[-1], max_value=days[0])
    st.sidebar.caption(f"Serving copy: {settings.serving_path}")
    navigation = st.navigation(
        [
            st.Page(_page(render, settings, day), title=title, url_path=path, default=i == 0)
            for i, (title, path, render) in enumerate(pages.PAGES)
        ]
    )
    navigation.run()


def _published_days(settings: Settings) -> list[date]:
    """The days the serving copy holds, newest first; none (and a note on the page) when it cannot be read."""
    try:
        with serving_reader(settings.serving_path, settings.lake_url) as con:
            days = published_days(con)
    except Exception as error:  # any reason the copy cannot be opened is shown, not a traceback
        st.title("SME Pulse")
        st.warning(
            f"No serving copy to read at {settings.serving_path} ({error}). Run `make demo`, or materialize "
            "serving/marts and serving/scores from the Dagster UI, then reload."
        )
        return []
    if not days:
        st.title("SME Pulse")
        st.info("The serving copy holds no day yet: run a day of data, then reload.")
    return days


def _page(render: Callable[[Figures], None], settings: Settings, day: date) -> Callable[[], None]:
    def shown() -> None:
        with serving_reader(settings.serving_path, settings.lake_url) as con:
            try:
                render(Figures(con, day))
            except duckdb.CatalogException as missing:  # e.g. the scores, before the first ML run
                st.info(f"This page needs a table the serving copy does not hold yet: {missing}")
            except duckdb.BinderException as missing:  # a column added since the copy was published
                st.info(
                    "This page needs a column the serving copy does not hold yet. After an upgrade, "
                    "reference_data_job rebuilds it (reference_seed_sensor starts it within minutes of `smepulse "
                    f"ui`, or run it from the UI) and the next daily run publishes it ({missing})"
                )

    shown.__name__ = render.__name__  # streamlit keys pages by their function's name
    return shown


if __name__ == "__main__":  # streamlit runs the script as __main__; importing it draws nothing
    main()
