-- Appended by bench/load.py to a run that counts answers: those under 400 whose body holds
-- answer_needle (set on the line above this one). report.lua sums answers_matched over the threads.
-- Defining response() makes wrk keep every answer's headers and body, so a run pays a little
-- client CPU for counting: count on both sides of a comparison, or on neither.
answers_matched = 0

function response(status, headers, body)
  if status < 400 and body and string.find(body, answer_needle, 1, true) then
    answers_matched = answers_matched + 1
  end
end
