"""The Gradio Space that compares subsets' diversity and models' outputs; reads only published artifacts."""
