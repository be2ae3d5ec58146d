"""A small hand-written corpus for the classifier's unit tests (not training data).

Each entry is (text, themes) with themes ';'-separated, as in the CSV format.
"""

ITEMS: list[tuple[str, str]] = [
    # money
    ("The merged CCG will start with a deficit of 40 million pounds. Who pays it back?", "money"),
    ("How will the budget be shared out fairly between the eight boroughs?", "money"),
    ("Savings targets of this size cannot be met without something giving.", "money"),
    ("I want to see the running costs of the new body compared with the old ones.", "money"),
    ("Is this reorganisation value for money, or another expensive restructure?", "money"),
    ("Our borough has been underfunded for years and this plan locks that in.", "money"),
    ("Where will the management cost savings actually be spent?", "money"),
    ("Pooling the money across North West London means richer areas subsidise others.", "money"),
    ("What is the financial framework for the next three years?", "money"),
    ("The allocation formula ignores deprivation in the east of the borough.", "money"),
    ("Please publish the investment plan and the figures behind it.", "money"),
    ("Cost-cutting dressed up as reform is still cost-cutting.", "money"),
    # decision-making
    ("Who will speak for Harrow when it is one body for eight boroughs?", "decision-making"),
    (
        "The consultation closes in August when everyone is on holiday. Extend it.",
        "decision-making",
    ),
    ("Will the governing body meet in public and publish its papers?", "decision-making"),
    ("Councillors must keep a vote on anything that affects our residents.", "decision-making"),
    ("This feels like the decision was made before anyone asked us.", "decision-making"),
    (
        "How will the joint scrutiny committee hold the new organisation to account?",
        "decision-making",
    ),
    ("The constitution gives lay members no real power.", "decision-making"),
    ("Local people need a say in what happens, not a leaflet after the fact.", "decision-making"),
    (
        "Nobody listened at the last engagement event, why would this one be different?",
        "decision-making",
    ),
    ("I want transparency about who sits on the board and how they are chosen.", "decision-making"),
    ("Decisions about Ealing should be taken in Ealing.", "decision-making"),
    ("Please explain the governance arrangements in plain English.", "decision-making"),
    # clinical-leadership
    (
        "GPs must stay at the heart of commissioning, not be pushed off the board.",
        "clinical-leadership",
    ),
    (
        "Will there still be a clinical chair, or will managers run everything?",
        "clinical-leadership",
    ),
    ("Nurses have no voice in these plans at all.", "clinical-leadership"),
    (
        "Clinical input into decisions will be lost in such a large organisation.",
        "clinical-leadership",
    ),
    ("Primary care network clinical directors should lead local planning.", "clinical-leadership"),
    (
        "Doctors who know our area should be making the choices, not consultants from outside.",
        "clinical-leadership",
    ),
    ("The medical voice on the governing body is being watered down.", "clinical-leadership"),
    ("Clinically led commissioning was the whole point of CCGs.", "clinical-leadership"),
    ("How many local GPs will sit on the new committee?", "clinical-leadership"),
    ("Pharmacists and therapists should also have a leadership role.", "clinical-leadership"),
    # services
    ("Will our walk-in centre close under this plan?", "services"),
    ("I already wait three weeks for a GP appointment.", "services"),
    ("A&E at Northwick Park is overwhelmed every winter.", "services"),
    ("Mental health services for young people are stretched to breaking point.", "services"),
    ("Please keep maternity care at our local hospital.", "services"),
    ("Community nursing visits to my mother have been cut back.", "services"),
    ("Waiting times for hip operations are far too long.", "services"),
    ("Care closer to home sounds good but the clinics are miles away.", "services"),
    ("The ambulance took an hour to arrive for my father.", "services"),
    ("Children's services in Brent need more support, not less.", "services"),
    ("The reception team do a great job despite the queues for appointments.", "services"),
    # jobs
    ("Will the people who answer the phone at the CCG still be there next year?", "jobs"),
    ("Staff morale is at rock bottom after the last restructure.", "jobs"),
    ("How many redundancies will there be when the CCGs merge?", "jobs"),
    ("Recruitment and retention of practice nurses is the real crisis.", "jobs"),
    ("Will staff transfer under TUPE on the same terms and pay?", "jobs"),
    ("Agency staff cost a fortune and leave as soon as they can.", "jobs"),
    ("My colleagues are worried about their careers and training.", "jobs"),
    ("The staff consultation on new posts was rushed.", "jobs"),
    ("Losing experienced commissioning managers will set us back years.", "jobs"),
    ("Unions have not been properly consulted about the workforce changes.", "jobs"),
    # several themes
    (
        "If budgets are pooled across NW London will Ealing lose its walk-in centre?",
        "money;services",
    ),
    ("Cutting the running costs will mean job losses for admin staff.", "money;jobs"),
    (
        "GPs should decide where the money goes, not a distant board.",
        "clinical-leadership;money;decision-making",
    ),
    ("Fewer staff means longer waits for patients at the surgery.", "jobs;services"),
    ("Who decides whether our hospital keeps its A&E?", "decision-making;services"),
    (
        "The clinical chair should be elected by local doctors, and meetings held in public.",
        "clinical-leadership;decision-making",
    ),
    ("Savings will come from closing clinics and cutting nursing posts.", "money;services;jobs"),
    ("Will nurses lead the new community services?", "clinical-leadership;services"),
    # none
    ("Your website does not work on my phone.", ""),
    ("Thank you for the leaflet, it was very clear.", ""),
    ("I don't want my money back, I want an answer about my parking fine.", ""),
    ("Please remove me from your mailing list.", ""),
    ("The font on the survey is too small to read.", ""),
    ("Can you tell me when the bins are collected in my road?", ""),
    ("Great job everyone, keep it up!", ""),
    ("Test message please ignore.", ""),
]
