"""The Hugging Face cache as huggingface_hub sees it, for the download tests.

  hfinterop.py read CACHE REPO      what scan_cache_dir finds, and every file through
                                    hf_hub_download(local_files_only=True), as JSON
  hfinterop.py download CACHE REPO  snapshot_download from $HF_ENDPOINT; prints the folder
"""
import json
import sys

from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download


def read(cache, repo):
    info = scan_cache_dir(cache)
    found = [r for r in info.repos if r.repo_id == repo]
    revisions = []
    for revision in found[0].revisions if found else []:
        files = {}
        for cached in revision.files:
            path = hf_hub_download(repo, cached.file_name, revision=revision.commit_hash,
                                   cache_dir=cache, local_files_only=True)
            files[cached.file_name] = {"path": path, "size": cached.size_on_disk,
                                       "blob": str(cached.blob_path)}
        revisions.append({"commit": revision.commit_hash, "refs": sorted(revision.refs),
                          "files": files})
    print(json.dumps({"warnings": [str(w) for w in info.warnings], "revisions": revisions}))


def download(cache, repo):
    print(snapshot_download(repo, cache_dir=cache))


if __name__ == "__main__":
    {"read": read, "download": download}[sys.argv[1]](*sys.argv[2:])
