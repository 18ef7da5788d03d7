# A tiny random-weight model with Mistral's real SentencePiece tokenizer and a real chat template
# (scripts/make_random_model.py; hidden 128 so that tp 2 shards fall on NF4 blocks), for the
# end-to-end scripts (test_sentencepiece_model.sh, check_tensorboard.sh, test_slurm.sh).
# Source it from the repository root; then:
#   make_tiny_sentencepiece_model DIR [TEMPLATE [extra make_random_model.py args...]]
# TEMPLATE is a name under Tests/Fixtures/reference/chat-templates/templates (default
# mistral-7b-instruct-v0.2).
make_tiny_sentencepiece_model() {
  local dir=$1 template=${2:-mistral-7b-instruct-v0.2}
  shift $(( $# < 2 ? $# : 2 ))
  python3 scripts/make_random_model.py "$dir" --hidden 128 --ffn 256 --layers 2 --heads 4 --vocab 32000 \
    --tokenizer Tests/Fixtures/reference/sentencepiece \
    --chat-template "Tests/Fixtures/reference/chat-templates/templates/$template.jinja" "$@" > /dev/null
}
