"""The dataset's seed: the data file, the article it cites, and the loader."""
