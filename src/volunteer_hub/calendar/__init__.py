"""Calendar feeds: what they show, how they are built, served and subscribed to."""
