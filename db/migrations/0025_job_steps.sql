-- The steps of a job that earlier attempts got through. A notify job hands
-- its event to every notifier (GitHub, Slack); when one of them must retry,
-- the job records which are through with the event, so the retry does not
-- redo them. NULL, the value of every other job, costs a row nothing.
ALTER TABLE jobs ADD COLUMN done_steps text[];
