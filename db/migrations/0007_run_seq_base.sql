-- Each attempt of a run numbers its events from 1; the server stores them
-- after the events of earlier attempts, from seq_base, so a retried run's
-- events are neither dropped nor mixed with the first attempt's.
ALTER TABLE runs ADD COLUMN seq_base bigint NOT NULL DEFAULT 0;
