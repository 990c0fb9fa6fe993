"""Form parsing for the pages: posted fields turned into the settings the lower layers take,
and their problems put back next to the fields they concern."""
