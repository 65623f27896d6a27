"""Model judges: strict structured judgments through instructor, with outcome validation."""
