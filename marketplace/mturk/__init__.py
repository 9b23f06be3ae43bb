"""MTurk compatibility: the /mturk/ requester API, question formats and worker side."""
