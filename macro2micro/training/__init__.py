"""Fine-tuning on the published configs (TRL + PEFT LoRA), evaluation and the diversity-score analysis."""
