"""`corolla api` through the official openai client library, for testapi.

  openaiclient.py BASE_URL KEY MODEL

Runs every check it can make on its own (raising on failure) and prints one JSON object with
what the C++ test compares against `corolla generate` and `corolla chat`.
"""
import concurrent.futures
import json
import sys

import openai


def main(base_url, key, model):
    client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)
    report = {}

    models = client.models.list()
    assert [m.id for m in models.data] == [model], models
    assert client.models.retrieve(model).id == model

    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Tell me about the swarm."}]
    whole = client.chat.completions.create(model=model, messages=messages, max_tokens=12,
                                           temperature=0)
    choice = whole.choices[0]
    assert whole.object == "chat.completion" and choice.message.role == "assistant", whole
    assert choice.finish_reason in ("stop", "length"), choice
    assert whole.usage.completion_tokens <= 12 and whole.usage.prompt_tokens > 0, whole.usage
    assert whole.usage.total_tokens == whole.usage.prompt_tokens + whole.usage.completion_tokens
    report["chat"] = choice.message.content
    report["chat_usage"] = whole.usage.model_dump()

    # Streamed: a role first, content deltas, a finish reason, the usage, [DONE].
    pieces, finish, usage, roles = [], None, None, []
    for chunk in client.chat.completions.create(model=model, messages=messages, max_tokens=12,
                                                temperature=0, stream=True,
                                                stream_options={"include_usage": True}):
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage = chunk.usage
        for c in chunk.choices:
            if c.delta.role:
                roles.append(c.delta.role)
            if c.delta.content:
                pieces.append(c.delta.content)
            if c.finish_reason:
                finish = c.finish_reason
    assert roles == ["assistant"], roles
    assert "".join(pieces) == choice.message.content, (pieces, choice.message.content)
    assert finish == choice.finish_reason and usage is not None
    assert usage.completion_tokens == whole.usage.completion_tokens
    report["stream_pieces"] = len(pieces)

    # Content as text parts is the same message.
    parts = client.chat.completions.create(
        model=model, max_tokens=12, temperature=0,
        messages=[{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
                  {"role": "user", "content": [{"type": "text", "text": "Tell me about "},
                                               {"type": "text", "text": "the swarm."}]}])
    assert parts.choices[0].message.content == choice.message.content

    prompt = "The swarm"
    completion = client.completions.create(model=model, prompt=prompt, max_tokens=10,
                                           temperature=0)
    assert completion.object == "text_completion"
    report["completion"] = completion.choices[0].text
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model=model, prompt=prompt, max_tokens=10, temperature=0, stream=True) if c.choices)
    assert streamed == report["completion"], (streamed, report["completion"])

    # A stop string ends the answer before it.
    text = report["completion"]
    if len(text) >= 4:
        stop = text[2:4]
        stopped = client.completions.create(model=model, prompt=prompt, max_tokens=10,
                                            temperature=0, stop=[stop])
        assert stopped.choices[0].text == text[:text.index(stop)], (stopped, stop)
        assert stopped.choices[0].finish_reason == "stop"
        report["stop_checked"] = True

    # The same seed, the same sampled answer.
    sampled = [client.completions.create(model=model, prompt=prompt, max_tokens=16,
                                         temperature=1.0, top_p=0.95, seed=seed).choices[0].text
               for seed in (7, 7, 8)]
    assert sampled[0] == sampled[1], sampled
    report["seeded_differs"] = sampled[0] != sampled[2]

    # Eight streams at once, each its own session: each equals the lone answer.
    def stream_once(_):
        return "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model=model, messages=messages, max_tokens=12, temperature=0, stream=True)
            if c.choices)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(stream_once, range(8)))
    assert answers == [choice.message.content] * 8, answers
    report["concurrent"] = len(answers)

    # The client's own error types.
    try:
        client.chat.completions.create(model="no/such-model", messages=messages)
        raise AssertionError("an unknown model was accepted")
    except openai.NotFoundError as error:
        assert error.status_code == 404
    bad = openai.OpenAI(base_url=base_url, api_key="wrong-" + key, max_retries=0)
    try:
        bad.models.list()
        raise AssertionError("a wrong key was accepted")
    except openai.AuthenticationError as error:
        assert error.status_code == 401
    try:
        client.chat.completions.create(model=model, messages=messages, n=2)
        raise AssertionError("n=2 was accepted")
    except openai.BadRequestError as error:
        assert error.status_code == 400 and error.body["param"] == "n", error.body
    report["errors_checked"] = True
    print(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:])
