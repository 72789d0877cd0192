"""The source factory: a YAML contract per source becomes parsing, quarantine, a bronze asset and the drop sensor."""
