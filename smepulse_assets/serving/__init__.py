"""The serving copy: what readers need, published as Parquet in the lake and a DuckDB file of views,
so dashboards, BI tools and report packs read while runs write the warehouse."""
