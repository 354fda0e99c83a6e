"""Notifications: the job worker and what it runs (email, callback calls, message-waiting lamps,
transcription). The store queues jobs; nothing here is needed for a message to be kept."""
