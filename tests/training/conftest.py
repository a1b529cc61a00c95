import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A random 2-layer Llama (~100K parameters) with a ByteLevel BPE tokenizer trained here."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from tests.conftest import make_synthetic_corpus

    out = tmp_path_factory.mktemp("tiny_model")
    corpus = make_synthetic_corpus(n=100)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|pad|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator(
        list(corpus["instruction"]) + list(corpus["response"]) + ["user assistant system"],
        trainers.BpeTrainer(
            vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<|pad|>",
        eos_token="<|im_end|>",
        bos_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    fast.save_pretrained(out)
    import torch

    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(fast),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=256,
            tie_word_embeddings=True,
            pad_token_id=fast.pad_token_id,
            eos_token_id=fast.eos_token_id,
            bos_token_id=fast.bos_token_id,
        )
    )
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory):
    """A dataset repo folder (3-level micro_response ladder + random + full) of the synthetic corpus."""
    from tests.conftest import make_synthetic_corpus
    from tests.helpers import build_repo

    repo, _ = build_repo(make_synthetic_corpus(n=120), tmp_path_factory.mktemp("tiny_repo"))
    return repo


def tiny_overrides(model_dir) -> list[str]:
    return [
        "--model_name_or_path",
        str(model_dir),
        "--max_steps",
        "3",
        "--max_length",
        "64",
        "--per_device_train_batch_size",
        "2",
        "--logging_steps",
        "1",
        "--learning_rate",
        "5e-3",
    ]
