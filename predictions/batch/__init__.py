"""Batch prediction jobs: check and store an upload, then score it in chunks on Celery.

upload.py checks a CSV (or JSON rows) before anything is stored, submit.py creates the job and
reserves its quota, run.py scores the stored file chunk by chunk and writes the result CSV.
"""
